import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { BucketHistogram } from './bucket-histogram.ts';
import { Tally } from './tally.ts';

/** What every shardline series is labelled with, besides its own labels. */
export interface MetricsLabels {
  readonly domain: string;
  readonly transport: string;
}

/** Where queue depth and capacity are read from at scrape time. */
export interface QueueSource {
  readonly shardCount: number;
  /** Per-shard bound, in commands. */
  readonly capacity: number;
  depth(shard: number): Promise<number>;
}

const BASE = ['domain', 'transport'] as const;

/** Ranks of each shard's hot keys exported as `shardline_hot_key_share`: the series stay shards × this. */
export const HOT_KEY_METRIC_RANKS = 5;

/**
 * Every shardline instrument, on a registry of its own (never prom-client's global one,
 * so several runtimes in one process and the tests never collide on names). The hot path
 * only adds numbers: counters through {@link Tally}s flushed on scrape, histograms as
 * {@link BucketHistogram}s. Queue depth, capacity and owned shards are read when
 * scraped. The default Node process metrics are included unless turned off.
 */
export class ShardlineInstruments {
  readonly registry = new Registry();
  readonly labels: MetricsLabels;
  readonly queueDepth: Gauge<'domain' | 'transport' | 'shard'>;
  readonly queueCapacity: Gauge<'domain' | 'transport' | 'shard'>;
  readonly enqueued: Counter<'domain' | 'transport' | 'type'>;
  readonly applied: Counter<'domain' | 'transport' | 'type' | 'outcome'>;
  readonly applyDuration: BucketHistogram;
  readonly endToEnd: BucketHistogram;
  readonly batchSize: BucketHistogram;
  readonly backpressureWait: BucketHistogram;
  readonly enqueueRejected: Counter<'domain' | 'transport' | 'reason'>;
  readonly shardsOwned: Gauge<'domain' | 'transport'>;
  readonly ownershipChanges: Counter<'domain' | 'transport' | 'event'>;
  readonly staleEpoch: Counter<'domain' | 'transport'>;
  readonly deadLetters: Counter<'domain' | 'transport' | 'type'>;
  readonly followUpsForced: Counter<'domain' | 'transport'>;
  readonly followUpRetries: Counter<'domain' | 'transport'>;
  readonly contractViolations: Counter<'domain' | 'transport'>;
  readonly shardsStopped: Gauge<'domain' | 'transport'>;
  readonly hotKeyShare: Gauge<'domain' | 'transport' | 'shard' | 'rank'>;
  readonly #tallies = new Map<Counter, Tally[]>();
  #queues: QueueSource | undefined;
  #owned: (() => number) | undefined;
  #stopped: (() => number) | undefined;

  constructor(labels: MetricsLabels, options: { defaultMetrics?: boolean } = {}) {
    this.labels = labels;
    const registers = [this.registry];
    const instruments = this;
    const perShard = [...BASE, 'shard'] as const;
    const fixed = { domain: labels.domain, transport: labels.transport };
    this.queueDepth = new Gauge({
      name: 'shardline_queue_depth',
      help: 'Unacknowledged commands in each shard queue, read from the transport at scrape time.',
      labelNames: perShard,
      registers,
      async collect() {
        const queues = instruments.#queues;
        if (queues === undefined) return;
        const depths = await Promise.all(
          Array.from({ length: queues.shardCount }, (_, shard) => queues.depth(shard).catch(() => Number.NaN)),
        );
        depths.forEach((depth, shard) => this.labels(labels.domain, labels.transport, String(shard)).set(depth));
      },
    });
    this.queueCapacity = new Gauge({
      name: 'shardline_queue_capacity',
      help: 'Most unacknowledged commands a shard queue admits.',
      labelNames: perShard,
      registers,
    });
    this.enqueued = new Counter({
      name: 'shardline_commands_enqueued_total',
      help: 'Commands accepted into a shard queue by producers of this process.',
      labelNames: [...BASE, 'type'],
      registers,
      collect() {
        instruments.#flush(this);
      },
    });
    this.applied = new Counter({
      name: 'shardline_commands_applied_total',
      help: 'Commands disposed of by owners of this process, by outcome (ok|rejected|failed|duplicate); throughput is its rate.',
      labelNames: [...BASE, 'type', 'outcome'],
      registers,
      collect() {
        instruments.#flush(this);
      },
    });
    this.applyDuration = new BucketHistogram({
      name: 'shardline_apply_duration_seconds',
      help: 'Time to apply one batch and commit it to the state store.',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      labels: fixed,
      registry: this.registry,
    });
    this.endToEnd = new BucketHistogram({
      name: 'shardline_end_to_end_seconds',
      help: 'Time from a command being sent to it being applied.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      labels: fixed,
      registry: this.registry,
    });
    this.batchSize = new BucketHistogram({
      name: 'shardline_batch_size',
      help: 'Commands per applied batch.',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096],
      labels: fixed,
      registry: this.registry,
    });
    this.backpressureWait = new BucketHistogram({
      name: 'shardline_backpressure_wait_seconds',
      help: 'Time producers waited for room in a full shard queue (only enqueues that waited).',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      labels: fixed,
      registry: this.registry,
    });
    this.enqueueRejected = new Counter({
      name: 'shardline_enqueue_rejected_total',
      help: 'Enqueues refused because the shard was full (reject policy) or the wait timed out (block policy).',
      labelNames: [...BASE, 'reason'],
      registers,
      collect() {
        instruments.#flush(this);
      },
    });
    this.shardsOwned = new Gauge({
      name: 'shardline_shards_owned',
      help: 'Shards this process owns now, read from its owner at scrape time.',
      labelNames: BASE,
      registers,
      collect() {
        const owned = instruments.#owned;
        if (owned !== undefined) this.labels(labels.domain, labels.transport).set(owned());
      },
    });
    this.ownershipChanges = new Counter({
      name: 'shardline_ownership_changes_total',
      help: 'Shards gained or lost by this process.',
      labelNames: [...BASE, 'event'],
      registers,
      collect() {
        instruments.#flush(this);
      },
    });
    this.staleEpoch = new Counter({
      name: 'shardline_stale_epoch_total',
      help: 'Claims or commits refused because another owner holds a newer epoch (this process was fenced).',
      labelNames: BASE,
      registers,
      collect() {
        instruments.#flush(this);
      },
    });
    this.deadLetters = new Counter({
      name: 'shardline_dead_letters_total',
      help: 'Commands moved to the dead-letter queue by this process (type "unknown" when it could not be decoded).',
      labelNames: [...BASE, 'type'],
      registers,
      collect() {
        instruments.#flush(this);
      },
    });
    this.followUpsForced = new Counter({
      name: 'shardline_follow_ups_forced_total',
      help: 'Follow-up commands admitted beyond capacity after waiting for room past the owner limit.',
      labelNames: BASE,
      registers,
      collect() {
        instruments.#flush(this);
      },
    });
    this.followUpRetries = new Counter({
      name: 'shardline_follow_up_retries_total',
      help: 'Failed enqueues of follow-up commands, each retried in order; a steady rise means a lane is stuck.',
      labelNames: BASE,
      registers,
      collect() {
        instruments.#flush(this);
      },
    });
    this.contractViolations = new Counter({
      name: 'shardline_transport_contract_violations_total',
      help: 'Deliveries that broke the transport contract (positions backwards, reused or past the limit, a rejected batch not delivered first); each stops its shard.',
      labelNames: BASE,
      registers,
      collect() {
        instruments.#flush(this);
      },
    });
    this.shardsStopped = new Gauge({
      name: 'shardline_shards_stopped',
      help: 'Shards this process holds but stopped applying because their transport broke its contract.',
      labelNames: BASE,
      registers,
      collect() {
        const stopped = instruments.#stopped;
        if (stopped !== undefined) this.labels(labels.domain, labels.transport).set(stopped());
      },
    });
    this.hotKeyShare = new Gauge({
      name: 'shardline_hot_key_share',
      help: `Share of a shard's recent commands (decayed, see hotKeyHalfLifeMs) taken by its rank-r key, for ranks 1..${HOT_KEY_METRIC_RANKS}, as its owner last published it; the keys are in shardline inspect.`,
      labelNames: [...perShard, 'rank'],
      registers,
    });
    this.shardsOwned.labels(labels.domain, labels.transport).set(0);
    this.shardsStopped.labels(labels.domain, labels.transport).set(0);
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** From now on, scrapes report the depth and capacity of every shard of `queues`. */
  watchQueues(queues: QueueSource): void {
    this.#queues = queues;
    for (let shard = 0; shard < queues.shardCount; shard++) {
      this.queueCapacity.labels(this.labels.domain, this.labels.transport, String(shard)).set(queues.capacity);
    }
  }

  /** A hot-path counter of one series of `counter`, flushed into it on every scrape. */
  tally(counter: Counter, ...extraLabelValues: string[]): Tally {
    const tally = new Tally(counter, [this.labels.domain, this.labels.transport, ...extraLabelValues]);
    let tallies = this.#tallies.get(counter);
    if (tallies === undefined) this.#tallies.set(counter, (tallies = []));
    tallies.push(tally);
    return tally;
  }

  #flush(counter: Counter): void {
    for (const tally of this.#tallies.get(counter) ?? []) tally.flush();
  }

  /**
   * From now on, scrapes report `count()` as the shards owned (and `stopped()` as those
   * stopped by a transport's contract violation). Read from the owner rather than summed
   * from gain/loss events, because a fenced shard is dropped without a loss event.
   */
  watchOwnership(count: () => number, stopped?: () => number): void {
    this.#owned = count;
    this.#stopped = stopped;
  }

  /** The text exposition of every metric, as served at `/metrics`. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}
