import { hostname } from 'node:os';
import { pickOwner } from '../../core/router.ts';
import type { ShardGrant, ShardHandler, ShardOwner } from '../transport.ts';
import { ShardQueue } from './shard-queue.ts';
import { Turns } from './turns.ts';

/** How the broker's delivery loops behave. */
export interface MemoryBrokerOptions {
  readonly shards: number;
  /** Unacknowledged messages per shard. */
  readonly capacity: number;
  /** Most messages handed to one `deliver` call. */
  readonly maxBatch: number;
  /** How long a revocation waits for the delivery in hand before it takes the shard anyway. */
  readonly revokeTimeoutMs: number;
  /** Pause before a failed delivery is tried again. */
  readonly retryDelayMs: number;
}

/** A subscription's side of the broker: its handler and the shards it runs now. */
class Member {
  readonly id: string;
  readonly handler: ShardHandler;
  readonly runners = new Map<number, GrantRunner>();

  constructor(id: string, handler: ShardHandler) {
    this.id = id;
    this.handler = handler;
  }
}

/**
 * Runs one grant: tells the handler, then delivers the shard's messages in order, one
 * batch at a time, acknowledging what `deliver` resolved and retrying what it rejected.
 */
class GrantRunner {
  readonly grant: ShardGrant;
  readonly member: Member;
  readonly #queue: ShardQueue;
  readonly #broker: MemoryBroker;
  #active = true;
  /** When `assigned` resolved (ms since the epoch); undefined until it has. */
  #heldSince: number | undefined;
  readonly done: Promise<void>;

  constructor(broker: MemoryBroker, member: Member, queue: ShardQueue, epoch: number) {
    this.#broker = broker;
    this.member = member;
    this.#queue = queue;
    this.grant = { shard: queue.shard, epoch };
    this.done = this.#run();
  }

  get active(): boolean {
    return this.#active;
  }

  /** Who holds the shard through this grant, once `assigned` accepted it and until it stops. */
  get owner(): ShardOwner | undefined {
    if (!this.#active || this.#heldSince === undefined) return undefined;
    return { member: this.member.id, host: hostname(), pid: process.pid, epoch: this.grant.epoch, since: this.#heldSince };
  }

  stop(): void {
    this.#active = false;
    this.#queue.wakeConsumer();
  }

  async #run(): Promise<void> {
    const { handler } = this.member;
    const options = this.#broker.options;
    try {
      await handler.assigned(this.grant);
      this.#heldSince = Date.now();
    } catch {
      this.#active = false;
      this.#broker.refused(this, false);
      return;
    }
    while (this.#active) {
      const turn = this.#broker.turns.due();
      if (turn !== undefined) {
        await turn;
        // A stop() during that turn woke no one (nothing was waiting for data yet): look again.
        continue;
      }
      const batch = this.#queue.ring.peek(0, options.maxBatch);
      if (batch.length === 0) {
        await this.#queue.waitForData(0);
        continue;
      }
      try {
        await handler.deliver(this.grant, batch);
        if (this.#active) this.#queue.ack(batch[batch.length - 1]!.position);
      } catch (error) {
        if ((error as { code?: unknown }).code === 'STALE_EPOCH') {
          this.#active = false;
          this.#broker.refused(this, true);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, options.retryDelayMs));
      }
    }
  }
}

/**
 * The in-process broker behind memory transports: shard queues plus ownership. Several
 * transport instances attached to one broker behave like separate processes: shards are
 * spread over their subscriptions by capped rendezvous hashing (`assignShards`) and move
 * when one joins or leaves.
 * Epochs start from the broker's creation time, so they also grow across restarts.
 */
export class MemoryBroker {
  readonly options: MemoryBrokerOptions;
  readonly queues: readonly ShardQueue[];
  /** The event loop turns its producers and delivery loops take together. */
  readonly turns = new Turns();
  readonly #members: Member[] = [];
  readonly #owners: (GrantRunner | undefined)[];
  readonly #transitions: Promise<void>[];
  readonly #epochBase = Date.now() * 1000;
  #grants = 0;
  #nextMember = 0;

  constructor(options: MemoryBrokerOptions) {
    this.options = options;
    this.queues = Array.from({ length: options.shards }, (_, shard) => new ShardQueue(shard, options.capacity));
    this.#owners = new Array<GrantRunner | undefined>(options.shards).fill(undefined);
    this.#transitions = Array.from({ length: options.shards }, () => Promise.resolve());
  }

  /** Per shard, the subscription holding it now and since when (`undefined` where none does). */
  owners(): (ShardOwner | undefined)[] {
    return this.#owners.map((runner) => runner?.owner);
  }

  join(handler: ShardHandler): Member {
    const member = new Member(`member-${this.#nextMember++}`, handler);
    this.#members.push(member);
    this.#rebalance();
    return member;
  }

  async leave(member: Member): Promise<void> {
    const index = this.#members.indexOf(member);
    if (index >= 0) this.#members.splice(index, 1);
    this.#rebalance();
    await Promise.all(this.#transitions);
  }

  /**
   * A grant's handler refused it (stale epoch): the shard is let go and granted anew after
   * the retry delay. A grant refused by `assigned()` was never held, so it gets no
   * `revoked()`; one fenced by a delivery does.
   */
  refused(runner: GrantRunner, held: boolean): void {
    const shard = runner.grant.shard;
    this.#transition(shard, async () => {
      if (this.#owners[shard] !== runner) return;
      if (held) {
        await this.#revoke(shard);
      } else {
        this.#owners[shard] = undefined;
        runner.member.runners.delete(shard);
      }
    });
    setTimeout(() => this.#rebalance(), this.options.retryDelayMs).unref();
  }

  #rebalance(): void {
    for (let shard = 0; shard < this.options.shards; shard++) {
      this.#transition(shard, async () => {
        const id = pickOwner(this.#members.map((member) => member.id), shard, this.options.shards);
        const desired = this.#members.find((member) => member.id === id);
        const current = this.#owners[shard];
        if (current?.active && current.member === desired) return;
        if (current !== undefined) await this.#revoke(shard);
        if (desired !== undefined) {
          const runner = new GrantRunner(this, desired, this.queues[shard]!, this.#epochBase + ++this.#grants);
          desired.runners.set(shard, runner);
          this.#owners[shard] = runner;
        }
      });
    }
  }

  #transition(shard: number, step: () => Promise<void>): void {
    this.#transitions[shard] = this.#transitions[shard]!.then(step);
  }

  async #revoke(shard: number): Promise<void> {
    const runner = this.#owners[shard];
    if (runner === undefined) return;
    this.#owners[shard] = undefined;
    runner.stop();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      runner.done,
      new Promise((resolve) => {
        timer = setTimeout(resolve, this.options.revokeTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    runner.member.runners.delete(shard);
    await runner.member.handler.revoked(runner.grant).catch(() => undefined);
  }
}
