import { randomBytes } from 'node:crypto';
import { pickOwner } from '../../core/router.ts';
import type { ShardGrant } from '../transport.ts';
import { membersKey, shardKeys, type ShardKeys } from './keys.ts';
import { ShardRunner, type RunnerContext } from './shard-runner.ts';
import { pause } from './signal.ts';
import type { Wakeups } from './wakeups.ts';

/**
 * One consumer process's part in shard ownership. Every `leaseTtlMs / 3` it renews its
 * membership, reads the live members, and for every shard compares who should own it
 * (capped rendezvous hashing, `assignShards`) with what it holds: it renews the leases it keeps, stops and
 * releases the shards another member should have (a joiner takes them over), and tries
 * to acquire the free leases of shards it should have (a dead member's lapse after one
 * TTL). A lease it fails to renew, or whose TTL ran out locally (a pause, Redis gone),
 * stops its runner at once, without asking Redis.
 */
export class Ownership {
  /** This process's member id: random, so a restarted process is a new member. */
  readonly member = `${process.pid}-${randomBytes(6).toString('hex')}`;
  readonly #context: RunnerContext;
  readonly #wakeups: Wakeups;
  readonly #keys: ShardKeys[];
  readonly #membersKey: string;
  readonly #runners = new Map<number, ShardRunner>();
  /** Shards being given up: not acquired again until their release finished. */
  readonly #releasing = new Map<number, Promise<void>>();
  readonly #timer: NodeJS.Timeout;
  #tick: Promise<void> = Promise.resolve();
  #busy = false;
  #closing: Promise<void> | undefined;

  constructor(context: RunnerContext, wakeups: Wakeups) {
    const { options } = context;
    this.#context = context;
    this.#wakeups = wakeups;
    this.#keys = Array.from({ length: options.shards }, (_, shard) => shardKeys(options.prefix, options.domain, shard));
    this.#membersKey = membersKey(options.prefix, options.domain);
    this.#timer = setInterval(() => this.#schedule(), Math.max(1, Math.floor(options.leaseTtlMs / 3)));
    this.#timer.unref();
    this.#schedule();
  }

  /** The grants whose runners are taking deliveries now. */
  owned(): ShardGrant[] {
    return [...this.#runners.values()].filter((runner) => runner.active).map((runner) => runner.grant);
  }

  /** Stops every runner, releases every lease and leaves the membership. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#timer);
      await Promise.race([this.#tick, pause(this.#context.options.leaseTtlMs)]);
      await Promise.all([...this.#runners.keys()].map((shard) => this.#giveUp(shard, true)));
      await Promise.all(this.#releasing.values());
      await this.#context.scripts
        .heartbeat(this.#membersKey, this.member, this.#context.options.leaseTtlMs, true)
        .catch(() => undefined);
    })();
    return this.#closing;
  }

  /**
   * Every round first stops the runners whose lease ran out locally, without Redis, so a
   * round stuck on an unreachable Redis cannot keep a runner going; a new round starts
   * only once the previous one finished.
   */
  #schedule(): void {
    if (this.#closing !== undefined) return;
    for (const [shard, runner] of this.#runners) {
      if (performance.now() > runner.validUntil) void this.#giveUp(shard, false);
    }
    if (this.#busy) return;
    this.#busy = true;
    const started = performance.now();
    this.#tick = this.#rebalance()
      .then(
        () => this.#context.outage.answered(started),
        (error: unknown) => this.#context.outage.failed(error, { during: 'ownership round' }),
      )
      .finally(() => {
        this.#busy = false;
      });
  }

  async #rebalance(): Promise<void> {
    const { scripts, options } = this.#context;
    const members = await scripts.heartbeat(this.#membersKey, this.member, options.leaseTtlMs, false);
    if (this.#closing !== undefined) return;
    const kept: ShardRunner[] = [];
    const wanted: ShardKeys[] = [];
    for (const keys of this.#keys) {
      const mine = pickOwner(members, keys.shard, this.#keys.length) === this.member;
      const runner = this.#runners.get(keys.shard);
      if (runner !== undefined && mine) kept.push(runner);
      else if (runner !== undefined) void this.#giveUp(keys.shard, true);
      else if (mine && !this.#releasing.has(keys.shard)) wanted.push(keys);
    }

    const renewedAt = performance.now();
    const renewed = await scripts.renew(kept.map((runner) => ({ keys: runner.keys, token: runner.token })), options.leaseTtlMs);
    kept.forEach((runner, i) => {
      if (renewed[i]) runner.validUntil = renewedAt + options.leaseTtlMs;
      else if (this.#runners.get(runner.grant.shard) === runner) void this.#giveUp(runner.grant.shard, false);
    });

    if (this.#closing !== undefined || wanted.length === 0) return;
    const acquiredAt = performance.now();
    const epochs = await scripts.acquire(wanted, this.member, options.leaseTtlMs);
    wanted.forEach((keys, i) => {
      const epoch = epochs[i]!;
      if (epoch > 0) this.#start(keys, epoch, acquiredAt + options.leaseTtlMs);
    });
  }

  #start(keys: ShardKeys, epoch: number, validUntil: number): void {
    const runner = new ShardRunner(this.#context, keys, { shard: keys.shard, epoch }, `${this.member}:${epoch}`, validUntil);
    this.#runners.set(keys.shard, runner);
    this.#wakeups.watch(keys.marker, runner.signal);
    void runner.done.then((end) => {
      if (end !== 'stopped' && this.#runners.get(keys.shard) === runner) {
        this.#context.logger.info({ shard: keys.shard, epoch, end }, 'shard runner ended');
        void this.#giveUp(keys.shard, true);
      }
    });
  }

  /**
   * Stops a shard's runner, waits (up to one lease TTL) for the delivery in hand, tells
   * the handler, and releases the lease when asked and still ours.
   */
  #giveUp(shard: number, release: boolean): Promise<void> {
    const runner = this.#runners.get(shard);
    if (runner === undefined) return this.#releasing.get(shard) ?? Promise.resolve();
    this.#runners.delete(shard);
    this.#wakeups.unwatch(runner.keys.marker);
    runner.stop();
    const { handler, scripts, options, logger } = this.#context;
    const giving = (async () => {
      await Promise.race([runner.done, pause(options.leaseTtlMs)]);
      if (runner.assigned) await handler.revoked(runner.grant).catch(() => undefined);
      if (release) {
        await scripts.release(runner.keys, runner.token).catch((error: unknown) => {
          logger.warn({ shard, err: error }, 'lease not released; it lapses after its TTL');
        });
      }
    })().finally(() => this.#releasing.delete(shard));
    this.#releasing.set(shard, giving);
    return giving;
  }
}
