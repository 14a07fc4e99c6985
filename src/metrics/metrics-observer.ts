import type { ApplyOutcome, RuntimeObserver } from '../runtime/observer.ts';
import type { BucketHistogram } from './bucket-histogram.ts';
import type { HotKey } from '../state/hot-key-board.ts';
import { HOT_KEY_METRIC_RANKS, type ShardlineInstruments } from './instruments.ts';
import type { Tally } from './tally.ts';

/**
 * The runtime's hooks, recorded into the shardline instruments. The domain and transport
 * labels never change within a process, so every series is looked up once and kept:
 * a hook costs a map lookup and an addition (counters are {@link Tally}s added to their
 * prom-client counters on scrape; histograms are {@link BucketHistogram}s). Hooks are
 * bound properties, so the runtime may call them detached or copy them by key.
 */
export class MetricsObserver implements RuntimeObserver {
  readonly #instruments: ShardlineInstruments;
  readonly #enqueued = new Map<string, Tally>();
  readonly #applied = new Map<string, Map<ApplyOutcome, Tally>>();
  readonly #deadLetters = new Map<string, Tally>();
  readonly #endToEnd: BucketHistogram;
  readonly #applyDuration: BucketHistogram;
  readonly #batchSize: BucketHistogram;
  readonly #backpressureWait: BucketHistogram;
  readonly #staleEpoch: Tally;
  readonly #followUpsForced: Tally;
  readonly #followUpRetries: Tally;
  readonly #gained: Tally;
  readonly #lost: Tally;
  readonly #full: Tally;
  readonly #timeout: Tally;
  readonly #contractViolations: Tally;

  constructor(instruments: ShardlineInstruments) {
    this.#instruments = instruments;
    this.#endToEnd = instruments.endToEnd;
    this.#applyDuration = instruments.applyDuration;
    this.#batchSize = instruments.batchSize;
    this.#backpressureWait = instruments.backpressureWait;
    this.#staleEpoch = instruments.tally(instruments.staleEpoch);
    this.#followUpsForced = instruments.tally(instruments.followUpsForced);
    this.#followUpRetries = instruments.tally(instruments.followUpRetries);
    this.#gained = instruments.tally(instruments.ownershipChanges, 'gained');
    this.#lost = instruments.tally(instruments.ownershipChanges, 'lost');
    this.#full = instruments.tally(instruments.enqueueRejected, 'full');
    this.#timeout = instruments.tally(instruments.enqueueRejected, 'timeout');
    this.#contractViolations = instruments.tally(instruments.contractViolations);
  }

  readonly enqueued = (type: string, count: number): void => {
    let tally = this.#enqueued.get(type);
    if (tally === undefined) {
      tally = this.#instruments.tally(this.#instruments.enqueued, type);
      this.#enqueued.set(type, tally);
    }
    tally.pending += count;
  };

  readonly enqueueRefused = (_shard: number, reason: 'full' | 'timeout'): void => {
    (reason === 'full' ? this.#full : this.#timeout).pending++;
  };

  readonly backpressureWait = (seconds: number): void => {
    this.#backpressureWait.observe(seconds);
  };

  readonly applied = (type: string, outcome: ApplyOutcome, count: number): void => {
    let byOutcome = this.#applied.get(type);
    if (byOutcome === undefined) {
      byOutcome = new Map();
      this.#applied.set(type, byOutcome);
    }
    let tally = byOutcome.get(outcome);
    if (tally === undefined) {
      tally = this.#instruments.tally(this.#instruments.applied, type, outcome);
      byOutcome.set(outcome, tally);
    }
    tally.pending += count;
  };

  readonly batch = (_shard: number, size: number, seconds: number): void => {
    this.#batchSize.observe(size);
    this.#applyDuration.observe(seconds);
  };

  readonly endToEnd = (seconds: number): void => {
    this.#endToEnd.observe(seconds);
  };

  readonly ownership = (shard: number, _epoch: number, event: 'gained' | 'lost'): void => {
    (event === 'gained' ? this.#gained : this.#lost).pending++;
    if (event === 'lost') this.hotKeys(shard, []);
  };

  /** Sets the shard's top ranks; ranks it has no key for (all, once the shard is lost) leave the metric. */
  readonly hotKeys = (shard: number, keys: readonly HotKey[]): void => {
    const { hotKeyShare, labels } = this.#instruments;
    const shardLabel = String(shard);
    for (let rank = 1; rank <= HOT_KEY_METRIC_RANKS; rank++) {
      const key = keys[rank - 1];
      if (key === undefined) hotKeyShare.remove(labels.domain, labels.transport, shardLabel, String(rank));
      else hotKeyShare.labels(labels.domain, labels.transport, shardLabel, String(rank)).set(key.share);
    }
  };

  readonly followUpRetried = (): void => {
    this.#followUpRetries.pending++;
  };

  readonly followUpsForced = (_shard: number, count: number): void => {
    this.#followUpsForced.pending += count;
  };

  readonly staleEpoch = (_shard: number): void => {
    this.#staleEpoch.pending++;
  };

  readonly deadLettered = (_shard: number, type: string | undefined, _error?: string): void => {
    const name = type ?? 'unknown';
    let tally = this.#deadLetters.get(name);
    if (tally === undefined) {
      tally = this.#instruments.tally(this.#instruments.deadLetters, name);
      this.#deadLetters.set(name, tally);
    }
    tally.pending++;
  };

  readonly contractViolation = (): void => {
    this.#contractViolations.pending++;
  };
}
