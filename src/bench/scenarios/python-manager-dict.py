"""The seed comparison of `shardline bench`: the counter workload on a multiprocessing.Manager dict.

This is how many Python readers first met shared state between processes, so the bench
shows it next to shardline on the same key sequence: `d[k] = d[k] + 1` from several
processes, once bare (the read and the write are two round trips to the manager, so two
processes can read the same value and one increment is lost) and once under a
Manager().Lock().

Usage: python3 python-manager-dict.py PROCESSES no-lock|lock < keys
  stdin   the workload's account keys, one per line, in command order
  stdout  one JSON line: {"python", "seconds", "latenciesMs", "counts"}
Errors go to stderr with a non-zero exit status; SIGTERM shuts the manager and the
worker processes down before exiting.
"""

import json
import multiprocessing
import platform
import signal
import sys
import time

# One increment in this many is timed: enough samples for a p99, few enough that the
# clock calls do not weigh on the manager round trips being measured.
SAMPLE_EVERY = 16

# A worker that dies before the start line would leave the others waiting for ever.
START_TIMEOUT_S = 60

MODES = ("no-lock", "lock")


def apply_increments(counters, lock, keys, start):
    """Applies one worker's share of the increments and returns its latency samples (ms).

    Every worker waits at `start` so that the parent's clock covers only the applying
    phase, not process start-up. A sample spans the whole increment, lock wait included,
    because that wait is what a caller of a locked counter experiences.
    """
    samples = []
    start.wait(START_TIMEOUT_S)
    for n, key in enumerate(keys):
        sampled = n % SAMPLE_EVERY == 0
        began = time.perf_counter() if sampled else 0.0
        if lock is None:
            counters[key] = counters[key] + 1
        else:
            with lock:
                counters[key] = counters[key] + 1
        if sampled:
            samples.append((time.perf_counter() - began) * 1000)
    return samples


def exit_on_sigterm(signum, frame):
    """Turns SIGTERM into SystemExit so that the `with` blocks stop the pool and the manager.

    The default action would end this process alone and leave the manager server and the
    workers running after the bench gave up on them.
    """
    sys.exit(128 + signum)


def main():
    """Runs one mode on the keys from stdin and prints the measurements as one JSON line."""
    if len(sys.argv) != 3 or not sys.argv[1].isdigit() or int(sys.argv[1]) < 1 or sys.argv[2] not in MODES:
        sys.exit(f"usage: python3 {sys.argv[0]} PROCESSES no-lock|lock < keys (got {sys.argv[1:]})")
    processes, mode = int(sys.argv[1]), sys.argv[2]
    keys = sys.stdin.read().split()
    with multiprocessing.Manager() as manager:
        counters = manager.dict(dict.fromkeys(keys, 0))
        lock = manager.Lock() if mode == "lock" else None
        start = manager.Barrier(processes + 1)
        shares = [(counters, lock, keys[w::processes], start) for w in range(processes)]
        with multiprocessing.Pool(processes) as pool:
            signal.signal(signal.SIGTERM, exit_on_sigterm)
            pending = pool.starmap_async(apply_increments, shares, chunksize=1)
            start.wait(START_TIMEOUT_S)
            started = time.perf_counter()
            samples = pending.get()
            seconds = time.perf_counter() - started
        final = dict(counters)
    result = {
        "python": platform.python_version(),
        "seconds": seconds,
        "latenciesMs": [ms for share in samples for ms in share],
        "counts": final,
    }
    print(json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()
