import { assignShards, type ShardGrant, type Subscription } from '../../src/index.ts';
import type { Lease, OwnershipBucket } from './ownership-bucket.ts';
import { ShardRunner, type RunnerContext } from './shard-runner.ts';

interface Held {
  lease: Lease;
  readonly runner: ShardRunner;
  leaving: Promise<void> | undefined;
}

/**
 * One member's part in ownership. Every `heartbeatMs` it writes its heartbeat, reads the
 * live members, gives up the shards `assignShards` (capped rendezvous hashing) now gives
 * to someone else, renews the rest, and takes the free shards assigned to it. A shard moves when its
 * owner gives it up (within one heartbeat of a member joining or leaving) or when the
 * owner's lease expires (`leaseTtlMs` after it died). A runner stops delivering as soon as
 * its lease has gone `leaseTtlMs - heartbeatMs` without a successful renewal, before the
 * server lets anyone else take it.
 */
export class Ownership implements Subscription {
  readonly #bucket: OwnershipBucket;
  readonly #context: RunnerContext;
  readonly #memberId: string;
  readonly #held = new Map<number, Held>();
  #timer: NodeJS.Timeout | undefined;
  #tick: Promise<void> = Promise.resolve();
  #stopped = false;
  #closing: Promise<void> | undefined;

  constructor(bucket: OwnershipBucket, context: RunnerContext, memberId: string) {
    this.#bucket = bucket;
    this.#context = context;
    this.#memberId = memberId;
  }

  /** Joins: heartbeats at once and then every `heartbeatMs`. */
  start(): void {
    this.#run();
  }

  owned(): readonly ShardGrant[] {
    return [...this.#held.values()].filter((held) => held.leaving === undefined).map((held) => held.runner.grant);
  }

  /** Gives every shard up (each gets `revoked`, then its lease is deleted) and leaves. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stop();
      await this.#tick;
      await Promise.all([...this.#held].map(([shard, held]) => this.#giveUp(shard, held, true)));
      await this.#bucket.leave().catch(() => undefined);
    })();
    return this.#closing;
  }

  /** Stops every timer and runner without revoking or releasing anything: what dying does. */
  abandon(): void {
    this.#stop();
    for (const held of this.#held.values()) held.runner.stop();
  }

  #stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #run(): void {
    this.#tick = this.#rebalance().finally(() => {
      if (!this.#stopped) this.#timer = setTimeout(() => this.#run(), this.#context.settings.heartbeatMs).unref();
    });
  }

  async #rebalance(): Promise<void> {
    const { logger, settings } = this.#context;
    let members: string[] | undefined;
    try {
      await this.#bucket.heartbeat();
      members = await this.#bucket.members();
    } catch (error) {
      logger.warn({ member: this.#memberId, err: error }, 'heartbeat failed; leases are kept only while they can be renewed');
    }
    const owners = members === undefined ? undefined : assignShards(members, settings.shards);
    // Giving a shard up waits for its delivery in hand; it is not awaited here, so that
    // one slow handler never delays the renewal of the other leases.
    await Promise.all(
      [...this.#held].map(async ([shard, held]) => {
        if (held.leaving !== undefined) return;
        if (owners !== undefined && owners[shard] !== this.#memberId) {
          void this.#giveUp(shard, held, true);
          return;
        }
        try {
          const renewed = await this.#bucket.renew(held.lease);
          if (renewed === undefined) void this.#giveUp(shard, held, false);
          else held.lease = renewed;
        } catch (error) {
          logger.warn({ shard, err: error }, 'lease renewal failed');
          if (!this.#trusted(held)) void this.#giveUp(shard, held, false);
        }
      }),
    );
    if (owners === undefined || this.#stopped) return;
    const wanted = Array.from({ length: settings.shards }, (_, shard) => shard).filter(
      (shard) => !this.#held.has(shard) && owners[shard] === this.#memberId,
    );
    await Promise.all(wanted.map((shard) => this.#take(shard)));
  }

  async #take(shard: number): Promise<void> {
    try {
      const lease = await this.#bucket.acquire(shard);
      if (lease === undefined || this.#stopped) {
        if (lease !== undefined) await this.#bucket.release(lease);
        return;
      }
      // The runner reaches its callbacks only after awaiting the handler, by when `held` is set.
      let held: Held | undefined;
      const runner = new ShardRunner(
        this.#context,
        { shard, epoch: lease.epoch },
        () => held !== undefined && this.#trusted(held),
        (wasHeld) => void (held && this.#giveUp(shard, held, true, wasHeld)),
      );
      held = { lease, runner, leaving: undefined };
      this.#held.set(shard, held);
    } catch (error) {
      this.#context.logger.warn({ shard, err: error }, 'could not take the lease; retrying next heartbeat');
    }
  }

  #trusted(held: Held): boolean {
    const { leaseTtlMs, heartbeatMs } = this.#context.settings;
    return performance.now() < held.lease.sentAt + leaseTtlMs - heartbeatMs;
  }

  /**
   * Stops the runner, waits for its delivery in hand (up to `revokeTimeoutMs`), tells the
   * handler (unless the grant was refused by `assigned` and so never held), then (if
   * `release`) frees the lease.
   */
  #giveUp(shard: number, held: Held, release: boolean, revoke = true): Promise<void> {
    held.leaving ??= (async () => {
      held.runner.stop();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([held.runner.done, new Promise((resolve) => (timer = setTimeout(resolve, this.#context.settings.revokeTimeoutMs)))]);
      clearTimeout(timer);
      if (revoke) await this.#context.handler.revoked(held.runner.grant).catch(() => undefined);
      if (this.#held.get(shard) === held) this.#held.delete(shard);
      if (release) await this.#bucket.release(held.lease).catch(() => undefined);
    })();
    return held.leaving;
  }
}
