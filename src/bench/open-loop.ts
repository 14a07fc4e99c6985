import { LatencyRecorder } from './latency.ts';

/** An offered load: commands per second, or a percentage of the scenario's maximum measured in the same run. */
export type OfferedRate = { readonly perSec: number } | { readonly percentOfMax: number };

/** The commands/s `rate` offers when the scenario's maximum is `maxPerSec`. */
export function offeredPerSec(rate: OfferedRate, maxPerSec: number): number {
  return 'perSec' in rate ? rate.perSec : Math.max(1, Math.round((maxPerSec * rate.percentOfMax) / 100));
}

/** `rate` as the user wrote it: `2000` or `50%`. */
export function describeRate(rate: OfferedRate): string {
  return 'perSec' in rate ? `${rate.perSec}/s` : `${rate.percentOfMax}%`;
}

/**
 * Calls `send(i, scheduledMs)` for i = 0 … count − 1 at `start + i / ratePerSec`, whether
 * or not earlier sends finished (an open loop: a slow system gets the same offered load, it
 * does not slow the sender down). When the sender falls behind (timers fire late, the
 * event loop was busy), every command whose time has come is sent at once, still carrying
 * its scheduled time (a `performance.now()` reading), so latency measured from it counts
 * the stall. Resolves when every send settled; rejects with the first failure.
 */
export async function runOpenLoop(options: {
  readonly ratePerSec: number;
  readonly count: number;
  send(i: number, scheduledMs: number): Promise<unknown>;
}): Promise<void> {
  const { ratePerSec, count, send } = options;
  if (!(ratePerSec > 0) || !Number.isFinite(ratePerSec)) throw new RangeError(`expected a rate > 0 commands/s, got ${ratePerSec}`);
  const intervalMs = 1000 / ratePerSec;
  const start = performance.now();
  let failure: unknown;
  let outstanding = 0;
  let drained: () => void = () => {};
  const settle = () => {
    if (--outstanding === 0) drained();
  };
  for (let i = 0; i < count; ) {
    const due = Math.min(count, Math.floor((performance.now() - start) / intervalMs) + 1);
    for (; i < due; i++) {
      outstanding++;
      send(i, start + i * intervalMs).then(settle, (error: unknown) => {
        failure ??= error;
        settle();
      });
    }
    if (i < count) await new Promise((resolve) => setTimeout(resolve, Math.max(0, start + i * intervalMs - performance.now())));
  }
  if (outstanding > 0) await new Promise<void>((resolve) => (drained = resolve));
  if (failure !== undefined) throw failure;
}

/**
 * Latency from the scheduled time to the commit: `applied` is called by the handler (before
 * the commit) with the command's scheduled time, `committed` by the owner's batch hook
 * (after it), which records every command of that shard applied since.
 */
export class ScheduledLatency {
  readonly recorder = new LatencyRecorder();
  readonly #uncommitted = new Map<number, number[]>();

  /** The time `performance.now()` reading `scheduledMs` stands for, in ms since the epoch: what a command carries as `at`. */
  static epochMs(scheduledMs: number): number {
    return performance.timeOrigin + scheduledMs;
  }

  readonly applied = (shard: number, atEpochMs: number): void => {
    let list = this.#uncommitted.get(shard);
    if (list === undefined) this.#uncommitted.set(shard, (list = []));
    list.push(atEpochMs);
  };

  readonly committed = (shard: number): void => {
    const list = this.#uncommitted.get(shard);
    if (list === undefined || list.length === 0) return;
    const now = performance.timeOrigin + performance.now();
    for (const at of list) this.recorder.record(Math.max(0, now - at));
    list.length = 0;
  };
}
