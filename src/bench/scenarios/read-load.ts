// The load of `reads-under-writes`: a steady stream of writes, and readers reading as fast
// as they can while it lasts. The same for shardline and for the lock baseline.
import { LatencyRecorder, percentiles } from '../latency.ts';
import type { ScenarioResult, Workload } from '../scenario.ts';
import { countAnomalies } from '../workload.ts';

/** Writes per second the stream offers: well under what the lock applies on hot keys alone (about 2,500/s). */
export const WRITE_RATE = 1_000;
/** How long the stream lasts, unless `--commands` is smaller. */
export const WRITE_SECONDS = 5;
/** Concurrent readers, each reading one key after another. */
export const READERS = 64;
/** Writes issued and not yet finished beyond which the stream waits (a lock that falls behind). */
const MAX_WRITES_IN_FLIGHT = 256;
/** Reads one run may make at most, whatever the time. */
const MAX_READS = 10_000_000;

/** Writes in one run: `WRITE_RATE` for `WRITE_SECONDS`, or the workload's commands when fewer. */
export function writesOf(workload: Workload): number {
  return Math.min(workload.commands, WRITE_RATE * WRITE_SECONDS);
}

/** How many of the first `total` writes each key gets: the counters expected at the end. */
export function expectedWrites(workload: Workload, total: number): Map<string, number> {
  const expected = new Map<string, number>();
  for (let i = 0; i < total; i++) expected.set(workload.keyOf(i), (expected.get(workload.keyOf(i)) ?? 0) + 1);
  return expected;
}

/**
 * Starts write `i` (for `i < total`) at `WRITE_RATE` from now, on a schedule that does not
 * wait for earlier writes to finish (at most `MAX_WRITES_IN_FLIGHT` unfinished); resolves
 * once every write finished.
 */
export async function steadyWrites(total: number, write: (i: number) => Promise<void>): Promise<void> {
  const started = performance.now();
  const inFlight = new Set<Promise<void>>();
  for (let i = 0; i < total; i++) {
    const wait = started + (i * 1000) / WRITE_RATE - performance.now();
    if (wait >= 1) await new Promise((resolve) => setTimeout(resolve, wait));
    while (inFlight.size >= MAX_WRITES_IN_FLIGHT) await Promise.race(inFlight);
    const done: Promise<void> = write(i).finally(() => inFlight.delete(done));
    inFlight.add(done);
  }
  await Promise.all(inFlight);
}

/**
 * `READERS` tasks, each calling `read(n)` (n counts every read of the run) one after
 * another until `until` settles; records each read's latency. Resolves with the number of
 * reads made.
 */
export async function readWhile(until: Promise<unknown>, read: (n: number) => Promise<void>, latency: LatencyRecorder): Promise<number> {
  let done = false;
  void until.finally(() => (done = true));
  let next = 0;
  await Promise.all(
    Array.from({ length: READERS }, async () => {
      while (!done && next < MAX_READS) {
        const started = performance.now();
        await read(next++);
        latency.record(performance.now() - started);
      }
    }),
  );
  return next;
}

/** What one run of writes, with or without readers, measured. */
export interface ReadRun {
  readonly writes: number;
  readonly writeSeconds: number;
  readonly writeLatency: LatencyRecorder;
  readonly reads: number;
  readonly readLatency: LatencyRecorder;
  /** Final counters of the written keys. */
  readonly counters: ReadonlyMap<string, number>;
}

/**
 * The rows of one run: `<name>` for the reads (reads/s) and `<writesName>` for the writes
 * beside them (writes/s); a run without readers has only the writes row. Both carry the
 * writes' lost updates and duplicates.
 */
export function rowsOf(workload: Workload, run: ReadRun, names: { reads?: string; writes: string }): ScenarioResult[] {
  const anomalies = countAnomalies(expectedWrites(workload, run.writes), run.counters);
  const writesPerSec = run.writes / run.writeSeconds;
  const writes: ScenarioResult = {
    name: names.writes,
    commandsPerSec: writesPerSec,
    ...anomalies,
    ...percentiles(run.writeLatency),
    notes: { offeredWritesPerSec: WRITE_RATE, writes: run.writes, readers: names.reads === undefined ? 0 : READERS },
  };
  if (names.reads === undefined) return [writes];
  const reads: ScenarioResult = {
    name: names.reads,
    commandsPerSec: run.reads / run.writeSeconds,
    ...anomalies,
    ...percentiles(run.readLatency),
    notes: { readers: READERS, reads: run.reads, writesPerSec: Math.round(writesPerSec), writeP99Ms: Math.round(run.writeLatency.percentile(99) * 10) / 10 },
  };
  return [reads, writes];
}
