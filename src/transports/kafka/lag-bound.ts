import { ClosedError, QueueFullError, TimeoutError } from '../../core/errors.ts';
import type { EnqueueOptions } from '../transport.ts';

/** How a {@link LagBound} samples and admits. */
export interface LagBoundOptions {
  readonly shards: number;
  /** Most unconsumed messages per partition that `block` and `reject` admit (approximately). */
  readonly capacity: number;
  /** Fraction of `capacity` up to which a sample younger than `sampleIntervalMs` is trusted. */
  readonly trustedFill: number;
  /** Longest age of a trusted sample; the poll period while enqueues wait. */
  readonly sampleIntervalMs: number;
  /** Reads every partition's lag now: end offset minus the owners' committed offset. */
  readonly sampleLag: () => Promise<number[]>;
}

interface Sample {
  /** `performance.now()` when the offsets were requested. */
  readonly startedAt: number;
  readonly lags: readonly number[];
  /** This process's produced-and-settled counts when the sample was requested. */
  readonly settledAtStart: readonly number[];
}

interface Waiter {
  readonly shard: number;
  readonly count: number;
  readonly reserve: number;
  readonly since: number;
  readonly timer: NodeJS.Timeout;
  readonly resolve: (waitedMs: number) => void;
  readonly reject: (error: Error) => void;
}

/**
 * Bounds a Kafka partition by its consumer lag, which can only be sampled: Kafka has no
 * atomic "append if fewer than N unconsumed" and another process's appends are seen only
 * at the next sample. The estimate of a partition is
 * `sampled lag + messages this process admitted that had not been written when the sample was requested`,
 * so this process's own appends are never missed; an enqueue is admitted while
 * `estimate + batch + reserve <= capacity`. While the estimate stays under
 * `trustedFill × capacity` the last sample decides, however old (a sample older than
 * `sampleIntervalMs` is refreshed in the background); above it, only a sample younger than
 * that and requested after this process's previous admission to the partition does, and
 * otherwise the enqueue waits for a new one. `reject` decisions always use a sample requested
 * after the call, and waiting (`block`) enqueues are re-checked on every sample, first
 * come first served per partition (an enqueue with a smaller reserve, an owner's
 * follow-up, is never held behind one with a larger reserve).
 *
 * **Overshoot.** With one producing process, the lag never exceeds `capacity` through
 * `block`/`reject` (samples can only overestimate it). With P producing processes (owners
 * that send follow-ups count), they see each other's appends late: each may admit up to
 * `trustedFill × capacity` on samples that miss the others', and near the bound each may
 * admit one batch on a sample that misses the others' concurrent batches. So the lag stays
 * under `max(capacity, P × trustedFill × capacity) + (P − 1) × largest batch`, plus
 * whatever `force` admitted. `trustedFill = 1 / P` makes it `capacity + (P − 1) × batch`.
 */
export class LagBound {
  readonly #options: LagBoundOptions;
  readonly #admitted: number[];
  readonly #settled: number[];
  readonly #lastAdmitAt: number[];
  readonly #waiters: Waiter[] = [];
  #sample: Sample | undefined;
  #sampling: { readonly startedAt: number; readonly promise: Promise<Sample> } | undefined;
  #poll: NodeJS.Timeout | undefined;
  #polling = false;
  #closed = false;

  constructor(options: LagBoundOptions) {
    this.#options = options;
    this.#admitted = new Array<number>(options.shards).fill(0);
    this.#settled = new Array<number>(options.shards).fill(0);
    this.#lastAdmitAt = new Array<number>(options.shards).fill(-Infinity);
  }

  /**
   * Waits for room for `count` messages in `shard` per `options` and reserves it; resolves
   * with the milliseconds waited. The caller writes them, then calls {@link settled}.
   */
  async admit(shard: number, count: number, options: EnqueueOptions): Promise<number> {
    if (this.#closed) throw new ClosedError('kafka transport');
    const { capacity } = this.#options;
    if (options.overflow === 'force') {
      this.#take(shard, count);
      return 0;
    }
    if (count + options.reserve > capacity) {
      throw new QueueFullError(shard, capacity, `a batch of ${count} with a reserve of ${options.reserve} can never fit`);
    }
    const arrived = performance.now();
    if (this.#trusted(shard, count, arrived) && this.#admissible(shard, count, options.reserve, this.#waiters.length)) {
      this.#take(shard, count);
      return 0;
    }
    await this.#freshSample(arrived);
    if (this.#closed) throw new ClosedError('kafka transport');
    if (this.#admissible(shard, count, options.reserve, this.#waiters.length)) {
      this.#take(shard, count);
      return performance.now() - arrived;
    }
    if (options.overflow === 'reject') {
      throw new QueueFullError(shard, capacity, `lag estimated at ${this.#estimate(shard)}, ${count} more asked, ${options.reserve} kept in reserve`);
    }
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#removeWaiter(waiter);
        reject(new TimeoutError('enqueue', options.timeoutMs, `partition ${shard} stayed over its lag capacity of ${capacity}`));
      }, Math.max(0, options.timeoutMs - (performance.now() - arrived)));
      const waiter: Waiter = { shard, count, reserve: options.reserve, since: arrived, timer, resolve, reject };
      this.#waiters.push(waiter);
      this.#schedulePoll();
    });
  }

  /** `count` admitted messages of `shard` were written (or failed to be): later samples show them. */
  settled(shard: number, count: number): void {
    this.#settled[shard]! += count;
  }

  /** The estimated lag of a shard, from a sample no older than `sampleIntervalMs`. */
  async depth(shard: number): Promise<number> {
    const now = performance.now();
    if (this.#sample === undefined || now - this.#sample.startedAt > this.#options.sampleIntervalMs) await this.#freshSample(now);
    return this.#estimate(shard);
  }

  /** Fails every waiting enqueue and stops polling. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#poll);
    this.#poll = undefined;
    for (const waiter of this.#waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new ClosedError('kafka transport'));
    }
  }

  #estimate(shard: number): number {
    const sample = this.#sample;
    if (sample === undefined) return Infinity;
    return Math.max(0, sample.lags[shard] ?? 0) + this.#admitted[shard]! - sample.settledAtStart[shard]!;
  }

  /**
   * Whether the current sample may decide: any sample while the estimate stays within
   * `trustedFill` (it is refreshed in the background once older than `sampleIntervalMs`),
   * above that only a recent one requested after this process's last admission to `shard`.
   */
  #trusted(shard: number, count: number, now: number): boolean {
    const sample = this.#sample;
    if (sample === undefined) return false;
    const fresh = now - sample.startedAt <= this.#options.sampleIntervalMs;
    if (!fresh) void this.#freshSample(now).catch(() => undefined);
    if (this.#estimate(shard) + count <= this.#options.trustedFill * this.#options.capacity) return true;
    return fresh && sample.startedAt > this.#lastAdmitAt[shard]!;
  }

  /** Fits, and no waiter among the first `before` of the same shard with a reserve as small or smaller is ahead. */
  #admissible(shard: number, count: number, reserve: number, before: number): boolean {
    if (this.#estimate(shard) + count + reserve > this.#options.capacity) return false;
    for (let i = 0; i < before; i++) {
      const waiter = this.#waiters[i]!;
      if (waiter.shard === shard && waiter.reserve <= reserve) return false;
    }
    return true;
  }

  #take(shard: number, count: number): void {
    this.#admitted[shard]! += count;
    this.#lastAdmitAt[shard] = performance.now();
  }

  /** A sample requested at or after `after` (the one in flight when it qualifies). */
  async #freshSample(after: number): Promise<Sample> {
    for (;;) {
      const inFlight = this.#sampling;
      if (inFlight !== undefined && inFlight.startedAt >= after) return inFlight.promise;
      if (inFlight !== undefined) {
        await inFlight.promise.catch(() => undefined);
        continue;
      }
      const startedAt = performance.now();
      const settledAtStart = [...this.#settled];
      const promise = this.#options.sampleLag().then((lags) => {
        const sample: Sample = { startedAt, lags, settledAtStart };
        if (this.#sample === undefined || this.#sample.startedAt < startedAt) this.#sample = sample;
        return sample;
      });
      const sampling = { startedAt, promise };
      this.#sampling = sampling;
      void promise.finally(() => {
        if (this.#sampling === sampling) this.#sampling = undefined;
      }).catch(() => undefined);
      return promise;
    }
  }

  #schedulePoll(): void {
    if (this.#closed || this.#poll !== undefined || this.#polling || this.#waiters.length === 0) return;
    this.#poll = setTimeout(() => {
      this.#poll = undefined;
      void this.#pollOnce();
    }, this.#options.sampleIntervalMs);
  }

  async #pollOnce(): Promise<void> {
    this.#polling = true;
    try {
      await this.#freshSample(performance.now());
      this.#admitWaiters();
    } catch {
      // The sample failed (brokers unreachable): waiters keep waiting until their timeout.
    } finally {
      this.#polling = false;
      this.#schedulePoll();
    }
  }

  #admitWaiters(): void {
    for (let i = 0; i < this.#waiters.length; ) {
      const waiter = this.#waiters[i]!;
      if (!this.#admissible(waiter.shard, waiter.count, waiter.reserve, i)) {
        i++;
        continue;
      }
      this.#waiters.splice(i, 1);
      clearTimeout(waiter.timer);
      this.#take(waiter.shard, waiter.count);
      waiter.resolve(performance.now() - waiter.since);
    }
  }

  #removeWaiter(waiter: Waiter): void {
    const index = this.#waiters.indexOf(waiter);
    if (index >= 0) this.#waiters.splice(index, 1);
  }
}
