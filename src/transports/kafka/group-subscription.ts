import type { Batch, Consumer, EachBatchPayload } from 'kafkajs';
import type { ShardGrant, ShardHandler, Subscription } from '../transport.ts';
import type { KafkaTransportSettings } from './kafka-options.ts';
import type { KafkaLog } from './kafka-log.ts';
import { GroupMembership } from './group-membership.ts';
import { PartitionRunner } from './partition-runner.ts';
import { toDelivery } from './record-delivery.ts';
import { holderMetadata } from './partition-holder.ts';

/** The settings a group subscription uses. */
export type GroupSettings = Pick<
  KafkaTransportSettings,
  'maxBatch' | 'maxRecordBytes' | 'partitionsConsumedConcurrently' | 'heartbeatIntervalMs' | 'retryDelayMs' | 'revokeTimeoutMs'
>;

/** A batch being handled: its kafkajs payload, heartbeated by the subscription's ticker. */
interface InHand {
  readonly payload: EachBatchPayload;
  /** Set when a heartbeat learned that the group is rebalancing: finish the chunk in hand, then stop. */
  rebalancing: boolean;
}

/**
 * Ownership from a Kafka consumer group: the partitions the group assigns this member are
 * the shards it owns. kafkajs rebalances eagerly — it stops fetching and waits for the
 * batches in hand before it rejoins — so on `REBALANCING` every grant is revoked (nothing
 * is in flight then), and again whenever this member sends a JoinGroup (a member whose
 * session expired while it was paused rejoins without any `REBALANCING`); on `GROUP_JOIN`
 * every assigned partition is granted anew. Each grant resumes from the position its
 * `assigned` resolves with (the state store is the source of truth), seeking back or
 * skipping ahead of the group's committed offset as needed; each acknowledged delivery is
 * then committed to Kafka so standard tools see the lag, with metadata naming the holder.
 * A rejected delivery is fetched again from its first offset after `retryDelayMs`. One
 * rejected with `STALE_EPOCH`, or a refused claim, revokes the grant; the partition is
 * claimed again only on a current assignment (see `GroupMembership`), never from what a
 * member paused past its session timeout still remembers.
 */
export class GroupSubscription implements Subscription {
  readonly #consumer: Consumer;
  readonly #anchor: (shard: number) => Promise<number>;
  readonly #topic: string;
  readonly #handler: ShardHandler;
  readonly #settings: GroupSettings;
  readonly #log: KafkaLog;
  readonly #runners = new Map<number, PartitionRunner>();
  /** Per shard, the chain of `assigned`/`revoked` calls, so they never overlap. */
  readonly #transitions = new Map<number, Promise<unknown>>();
  readonly #inHand = new Set<InHand>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #membership = new GroupMembership();
  /** Consecutive restarts after crashes kafkajs would not restart from; reset by a successful join. */
  #restarts = 0;
  #ticker: NodeJS.Timeout | undefined;
  #abandon: () => void = () => {};
  readonly #abandoned = new Promise<void>((resolve) => {
    this.#abandon = resolve;
  });
  #closing: Promise<void> | undefined;

  /**
   * @param anchor where the group's offset of a partition stands now (its committed offset,
   *   else the log's start): a new holder is named in the group's offsets at that offset,
   *   before anything is applied, without moving it.
   */
  constructor(consumer: Consumer, topic: string, handler: ShardHandler, settings: GroupSettings, log: KafkaLog, anchor: (shard: number) => Promise<number>) {
    this.#anchor = anchor;
    this.#consumer = consumer;
    this.#topic = topic;
    this.#handler = handler;
    this.#settings = settings;
    this.#log = log;
  }

  /** Subscribes and starts consuming; shards arrive with the group's first assignment. */
  async start(): Promise<void> {
    const events = this.#consumer.events;
    this.#consumer.on(events.GROUP_JOIN, (event) => this.#joined(event.payload.memberId, event.payload.memberAssignment[this.#topic] ?? []));
    this.#consumer.on(events.REBALANCING, () => this.#revokeAll('rebalancing'));
    this.#consumer.on(events.REQUEST, (event) => {
      if (event.payload.apiName === 'JoinGroup') this.#revokeAll('rejoining');
    });
    this.#consumer.on(events.HEARTBEAT, (event) => this.#confirmed(event.payload.memberId));
    this.#consumer.on(events.STOP, () => this.#revokeAll('stopped'));
    this.#consumer.on(events.CRASH, (event) => {
      const { error, restart } = event.payload;
      this.#log.warn(`consumer crashed: ${errorName(error)}`, { topic: this.#topic, err: error, restart }, 'kafka consumer crashed');
      this.#revokeAll('crashed');
      if (!restart) this.#restart();
    });
    await this.#consumer.connect();
    await this.#consumer.subscribe({ topics: [this.#topic], fromBeginning: true });
    this.#ticker = setInterval(() => this.#heartbeatInHand(), this.#settings.heartbeatIntervalMs);
    this.#ticker.unref();
    await this.#run();
  }

  #run(): Promise<void> {
    return this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.#settings.partitionsConsumedConcurrently,
      eachBatch: (payload) => this.#eachBatch(payload),
    });
  }

  /**
   * kafkajs gives up on errors it deems final, such as INVALID_REQUEST, which some brokers
   * (librdkafka's mock among them) answer to a SyncGroup that arrives after the leader's.
   * An owner must not silently stop: rejoin after a growing pause (doubling up to 32 retry delays).
   */
  #restart(): void {
    this.#restarts++;
    const delayMs = this.#settings.retryDelayMs * Math.min(2 ** this.#restarts, 32);
    this.#later(delayMs, () => {
      this.#log.warn('rejoining after a crash', { topic: this.#topic, attempt: this.#restarts }, 'rejoining the consumer group after a crash');
      this.#run().catch((error: unknown) => {
        this.#log.warn(`rejoin failed: ${errorName(error)}`, { topic: this.#topic, err: error }, 'rejoin failed');
        this.#restart();
      });
    });
  }

  owned(): readonly ShardGrant[] {
    return [...this.#runners.values()].filter((runner) => runner.active && runner.claimed).map((runner) => runner.grant);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const abandon = setTimeout(() => this.#abandon(), this.#settings.revokeTimeoutMs);
      try {
        await this.#consumer.disconnect();
      } catch (error) {
        this.#log.warn('leave failed', { topic: this.#topic, err: error }, 'kafka consumer did not leave the group cleanly');
      } finally {
        clearTimeout(abandon);
        this.#abandon();
      }
      clearInterval(this.#ticker);
      for (const timer of this.#timers) clearTimeout(timer);
      this.#timers.clear();
      this.#revokeAll('closed');
      await Promise.all(this.#transitions.values());
    })();
    return this.#closing;
  }

  /** A join completed: its JoinGroup revoked every grant, so the whole assignment is granted afresh. */
  #joined(memberId: string, partitions: readonly number[]): void {
    if (this.#closing !== undefined) return;
    this.#restarts = 0;
    this.#membership.joined(memberId, partitions);
    for (const shard of partitions) if (!this.#runners.has(shard)) this.#grant(shard);
    this.#log.info({ topic: this.#topic, memberId, partitions }, 'kafka group assignment');
  }

  #revokeAll(reason: string): void {
    if (this.#runners.size > 0) this.#log.debug({ topic: this.#topic, reason, shards: [...this.#runners.keys()] }, 'revoking every partition');
    this.#membership.lapsed();
    for (const runner of [...this.#runners.values()]) this.#revoke(runner);
  }

  /** A heartbeat of `memberId` succeeded: claim again what it proves still assigned here. */
  #confirmed(memberId: string): void {
    if (this.#closing !== undefined) return;
    for (const shard of this.#membership.heartbeat(memberId, performance.now(), this.#settings.retryDelayMs)) {
      if (!this.#runners.has(shard)) this.#grant(shard);
    }
  }

  /** Runs `step` after every earlier transition of `shard`. */
  #after<T>(shard: number, step: () => Promise<T>): Promise<T> {
    const previous = this.#transitions.get(shard) ?? Promise.resolve();
    const next = previous.then(step, step);
    const settled = next.catch(() => undefined);
    this.#transitions.set(shard, settled);
    void settled.then(() => {
      if (this.#transitions.get(shard) === settled) this.#transitions.delete(shard);
    });
    return next;
  }

  #grant(shard: number): void {
    const runner = new PartitionRunner(shard);
    this.#runners.set(shard, runner);
    this.#resume(shard);
    runner.ready = this.#after(shard, async () => {
      if (!runner.active) return undefined;
      try {
        const position = await this.#handler.assigned(runner.grant);
        if (!runner.active) return undefined;
        runner.claimed = true;
        runner.next = position + 1;
        runner.holder = holderMetadata(this.#membership.memberId ?? '', Date.now());
        // Resume where the store stands, not at the group's committed offset: with nothing new
        // to fetch, no batch would arrive to tell the two apart.
        this.#seek(shard, runner.next);
        // Name the new holder in the group's offsets at once (see `owners()`). Before anything
        // is applied, committing the store's position would move the group's offset back (a
        // memory store replays): the holder is named at the offset the group has instead.
        if (runner.next > 0) this.#commit(runner, runner.next);
        else this.#nameHolder(runner);
        return runner.next;
      } catch (error) {
        this.#log.warn(`claim refused: ${errorName(error)}`, { topic: this.#topic, shard, err: error }, 'partition claim refused; claiming it again on a current assignment');
        this.#fenced(runner);
        return undefined;
      }
    });
  }

  #revoke(runner: PartitionRunner): void {
    const shard = runner.grant.shard;
    runner.active = false;
    if (this.#runners.get(shard) === runner) this.#runners.delete(shard);
    void this.#after(shard, async () => {
      await Promise.race([runner.busy, this.#abandoned]);
      if (!runner.claimed) return;
      runner.claimed = false;
      try {
        await this.#handler.revoked(runner.grant);
      } catch (error) {
        this.#log.warn(`revoked failed: ${errorName(error)}`, { topic: this.#topic, shard, err: error }, 'revoked handler failed');
      }
    });
  }

  /**
   * The owner refused the grant (a refused claim, a stale epoch): give it up, and claim it
   * again once the membership is proven current. A grant that a rejoin already replaced
   * leaves the partition to its successor.
   */
  #fenced(runner: PartitionRunner): void {
    const shard = runner.grant.shard;
    const current = this.#runners.get(shard) === runner;
    this.#revoke(runner);
    if (!current) return;
    this.#pause(shard);
    this.#membership.refused(shard, performance.now());
  }

  async #eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const runner = this.#runners.get(batch.partition);
    if (batch.topic !== this.#topic || runner === undefined || this.#closing !== undefined) return;
    const inHand: InHand = { payload, rebalancing: false };
    const busy = this.#handle(runner, batch, inHand);
    runner.busy = busy.then(
      () => undefined,
      () => undefined,
    );
    this.#inHand.add(inHand);
    try {
      await Promise.race([busy, this.#abandoned]);
    } finally {
      this.#inHand.delete(inHand);
    }
  }

  async #handle(runner: PartitionRunner, batch: Batch, inHand: InHand): Promise<void> {
    const shard = runner.grant.shard;
    if ((await runner.ready) === undefined || !runner.active || inHand.payload.isStale()) return;
    const first = batch.messages.length > 0 ? Number(batch.messages[0]!.offset) : undefined;
    if (first !== undefined && first > runner.next) {
      if (runner.soughtTo !== runner.next) {
        runner.soughtTo = runner.next;
        this.#seek(shard, runner.next);
        return;
      }
      this.#log.warn('offsets missing', { topic: this.#topic, shard, expected: runner.next, first }, 'offsets missing from the log (retention or control records); resuming at the first one present');
      runner.next = first;
    }
    const messages = batch.messages.filter((message) => Number(message.offset) >= runner.next);
    // What the store already has (the group's committed offset lags it after a crash) is skipped, not delivered.
    if (messages.length < batch.messages.length) this.#acknowledge(runner, runner.next - 1, inHand.payload);
    for (let start = 0; start < messages.length; start += this.#settings.maxBatch) {
      if (!runner.active || !inHand.payload.isRunning() || inHand.rebalancing || this.#closing !== undefined) break;
      const deliveries = messages.slice(start, start + this.#settings.maxBatch).map((message) => toDelivery(message, this.#settings.maxRecordBytes));
      try {
        await this.#handler.deliver(runner.grant, deliveries);
      } catch (error) {
        this.#rejected(runner, deliveries[0]!.position, error);
        break;
      }
      if (!runner.active) break;
      this.#acknowledge(runner, deliveries[deliveries.length - 1]!.position, inHand.payload);
    }
  }

  /** Everything up to `offset` is applied: fetch on from after it, and tell the group. */
  #acknowledge(runner: PartitionRunner, offset: number, payload: EachBatchPayload): void {
    runner.next = offset + 1;
    payload.resolveOffset(String(offset));
    this.#commit(runner, offset + 1);
  }

  #rejected(runner: PartitionRunner, position: number, error: unknown): void {
    const shard = runner.grant.shard;
    if ((error as { code?: unknown }).code === 'STALE_EPOCH') {
      this.#log.warn('owner fenced', { topic: this.#topic, shard }, 'owner fenced; giving the partition up');
      this.#fenced(runner);
      return;
    }
    if (this.#runners.get(shard) !== runner) return;
    this.#log.warn(`delivery rejected: ${errorName(error)}`, { topic: this.#topic, shard, position, err: error }, 'delivery rejected; fetching it again');
    this.#seek(shard, position);
    this.#pause(shard);
    this.#later(this.#settings.retryDelayMs, () => {
      if (this.#runners.get(shard) === runner) this.#resume(shard);
    });
  }

  /**
   * Commits the offset after an acknowledged delivery to the group, for lag (the producers'
   * bound reads it) and tools, without holding up the next delivery: one commit per
   * partition in flight, the newest offset wins. Its metadata names this grant's holder.
   * A failure is harmless (the store has the position; the next batch commits again), and
   * nothing is committed once the grant is gone, so a late commit never moves a partition
   * that another member owns now.
   */
  #commit(runner: PartitionRunner, offset: number): void {
    runner.commitTo = Math.max(runner.commitTo, offset);
    if (runner.committing) return;
    runner.committing = true;
    void (async () => {
      while (runner.active && runner.committed < runner.commitTo) {
        const target = runner.commitTo;
        try {
          await this.#consumer.commitOffsets([{ topic: this.#topic, partition: runner.grant.shard, offset: String(target), metadata: runner.holder ?? null }]);
          runner.committed = target;
        } catch (error) {
          this.#log.debug({ topic: this.#topic, shard: runner.grant.shard, offset: target, err: error }, 'offset commit failed');
          break;
        }
      }
      runner.committing = false;
    })();
  }

  /** Commits the group's own offset of the partition again, with this grant as its holder. */
  #nameHolder(runner: PartitionRunner): void {
    const shard = runner.grant.shard;
    this.#anchor(shard).then(
      (offset) => this.#commit(runner, offset),
      (error: unknown) => this.#log.debug({ topic: this.#topic, shard, err: error }, 'holder not named: the group offset could not be read'),
    );
  }

  #heartbeatInHand(): void {
    for (const inHand of this.#inHand) {
      inHand.payload.heartbeat().catch((error: unknown) => {
        inHand.rebalancing = true;
        this.#log.debug({ topic: this.#topic, err: error }, 'heartbeat during a batch failed; stopping after the chunk in hand');
      });
    }
  }

  #later(ms: number, run: () => void): void {
    if (this.#closing !== undefined) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      run();
    }, ms);
    this.#timers.add(timer);
  }

  // kafkajs throws from pause/resume/seek while it restarts after a crash; the next
  // assignment starts from the store's position anyway.
  #seek(shard: number, offset: number): void {
    try {
      this.#consumer.seek({ topic: this.#topic, partition: shard, offset: String(offset) });
    } catch (error) {
      this.#log.debug({ topic: this.#topic, shard, err: error }, 'seek skipped');
    }
  }

  #pause(shard: number): void {
    try {
      this.#consumer.pause([{ topic: this.#topic, partitions: [shard] }]);
    } catch (error) {
      this.#log.debug({ topic: this.#topic, shard, err: error }, 'pause skipped');
    }
  }

  #resume(shard: number): void {
    try {
      this.#consumer.resume([{ topic: this.#topic, partitions: [shard] }]);
    } catch (error) {
      this.#log.debug({ topic: this.#topic, shard, err: error }, 'resume skipped');
    }
  }
}

/** What kind of error it is, for grouping log lines: its `code`, else its name. */
function errorName(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.name : typeof error;
}
