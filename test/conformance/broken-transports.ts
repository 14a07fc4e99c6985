import { createServer, type Server } from 'node:net';
import { TimeoutError } from '../../src/core/errors.ts';
import { MemoryBroker } from '../../src/transports/memory/memory-broker.ts';
import { TransportDecorator } from '../support/decorators.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import {
  MAX_POSITION,
  type Delivery,
  type EnqueueOptions,
  type EnqueueResult,
  type ShardGrant,
  type ShardHandler,
  type Subscription,
  type TransportInfo,
  type TransportMessage,
} from '../../src/transports/transport.ts';

/**
 * A memory transport seen through a decorator that forwards everything; each subclass
 * breaks exactly one guarantee of the contract, as an adapter with that bug would.
 */
export class Decorated extends TransportDecorator<MemoryTransport> {
  constructor(broker: MemoryBroker) {
    super(`memory, ${new.target.name}`, new MemoryTransport({ broker }));
  }
}

const isStale = (error: unknown) => (error as { code?: unknown }).code === 'STALE_EPOCH';

/** A rejected batch is acknowledged and set aside, then delivered again after the newer messages. */
export class RedeliversLate extends Decorated {
  protected override wrap(handler: ShardHandler): ShardHandler {
    const setAside = new Map<number, Delivery[]>();
    return {
      assigned: (grant) => handler.assigned(grant),
      revoked: (grant) => handler.revoked(grant),
      deliver: async (grant, batch) => {
        const late = setAside.get(grant.shard) ?? [];
        setAside.delete(grant.shard);
        try {
          await handler.deliver(grant, batch);
        } catch (error) {
          if (isStale(error)) throw error;
          setAside.set(grant.shard, [...late, ...batch]);
          return;
        }
        if (late.length > 0) await handler.deliver(grant, late).catch(() => setAside.set(grant.shard, late));
      },
    };
  }
}

/** `block` enqueues ignore `reserve`: they fill the slots kept for owners' follow-ups. */
export class BlockIgnoresReserve extends Decorated {
  override enqueue(shard: number, messages: readonly TransportMessage[], options: EnqueueOptions): Promise<EnqueueResult> {
    return super.enqueue(shard, messages, options.overflow === 'block' ? { ...options, reserve: 0 } : options);
  }
}

/** A `block` batch that can never fit waits out its timeout and throws `TimeoutError`. */
export class OversizedWaits extends Decorated {
  override async enqueue(shard: number, messages: readonly TransportMessage[], options: EnqueueOptions): Promise<EnqueueResult> {
    const { capacity } = await this.inner.connect();
    if (options.overflow === 'block' && messages.length + options.reserve > capacity) {
      await new Promise((resolve) => setTimeout(resolve, options.timeoutMs));
      throw new TimeoutError('enqueue', options.timeoutMs, `shard ${shard} stayed full`);
    }
    return super.enqueue(shard, messages, options);
  }
}

/** Enqueues a batch message by message: a refused batch leaves the messages that fitted. */
export class PartialEnqueue extends Decorated {
  override async enqueue(shard: number, messages: readonly TransportMessage[], options: EnqueueOptions): Promise<EnqueueResult> {
    let waitedMs = 0;
    for (const message of messages) waitedMs += (await super.enqueue(shard, [message], options)).waitedMs;
    return { waitedMs };
  }
}

/**
 * Takes a shard away without waiting for the batch in hand (a revoke timeout of 1 ms) and
 * tells the holder a moment later, once that batch is done: the new owner is granted the
 * shard while the old one is still applying.
 */
export class GrantsMidBatch extends Decorated {
  protected override wrap(handler: ShardHandler): ShardHandler {
    const inHand = new Map<number, Promise<unknown>>();
    return {
      assigned: (grant) => handler.assigned(grant),
      deliver: (grant, batch) => {
        const delivery = handler.deliver(grant, batch);
        inHand.set(grant.shard, delivery.catch(() => undefined));
        return delivery;
      },
      revoked: async (grant) => {
        void (inHand.get(grant.shard) ?? Promise.resolve()).then(() => handler.revoked(grant));
      },
    };
  }
}

/** Positions offset so that they pass `MAX_POSITION` after the first 64 messages of a shard. */
export class PositionsPastLimit extends Decorated {
  protected override wrap(handler: ShardHandler): ShardHandler {
    return mapPositions(handler, (position) => position + MAX_POSITION - 63);
  }
}

/** Positions kept in 9 bits (a ring slot index): they go back to 0 after 512 messages. */
export class PositionsWrap extends Decorated {
  protected override wrap(handler: ShardHandler): ShardHandler {
    return mapPositions(handler, (position) => position % 512);
  }
}

function mapPositions(handler: ShardHandler, map: (position: number) => number): ShardHandler {
  return {
    assigned: (grant) => handler.assigned(grant),
    revoked: (grant) => handler.revoked(grant),
    deliver: (grant, batch) =>
      handler.deliver(
        grant,
        batch.map((delivery) => ({ key: delivery.key, value: delivery.value, position: map(delivery.position) })),
      ),
  };
}

/**
 * `close()` forgets its grants locally but leaves them held, as an adapter that lets its
 * leases lapse instead of releasing them: the survivors get the shards only `leaseMs` later.
 */
export class CloseLeavesLeases extends Decorated {
  static readonly leaseMs = 3_000;
  #closing: Promise<void> | undefined;
  #gone = false;
  readonly #handlers: { handler: ShardHandler; subscription: Subscription }[] = [];

  override async consume(handler: ShardHandler): Promise<Subscription> {
    const subscription = await super.consume(handler);
    this.#handlers.push({ handler, subscription });
    return {
      owned: () => (this.#gone ? [] : subscription.owned()),
      close: () => this.close(),
    };
  }

  override close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const { handler, subscription } of this.#handlers) {
        for (const grant of subscription.owned()) await handler.revoked(grant);
      }
      this.#gone = true;
      setTimeout(() => void this.inner.close(), CloseLeavesLeases.leaseMs);
    })();
    return this.#closing;
  }

  protected override wrap(handler: ShardHandler): ShardHandler {
    const never = new Promise<never>(() => {});
    return {
      assigned: (grant) => (this.#gone ? never : handler.assigned(grant)),
      deliver: (grant, batch) => (this.#gone ? never : handler.deliver(grant, batch)),
      revoked: (grant) => (this.#gone ? Promise.resolve() : handler.revoked(grant)),
    };
  }
}

/** Starts a heartbeat timer on `connect()` that `close()` forgets to clear. */
export class LeaksTimer extends Decorated {
  static readonly leaked: NodeJS.Timeout[] = [];

  override async connect(): Promise<TransportInfo> {
    if (LeaksTimer.leaked.length === 0) LeaksTimer.leaked.push(setInterval(() => undefined, 1_000));
    return super.connect();
  }
}

/** Opens a socket (a listening server) on `connect()` that `close()` forgets to close. */
export class LeaksSocket extends Decorated {
  static readonly leaked: Server[] = [];

  override async connect(): Promise<TransportInfo> {
    if (LeaksSocket.leaked.length === 0) {
      const server = createServer();
      LeaksSocket.leaked.push(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    }
    return super.connect();
  }
}

/** Treats a `STALE_EPOCH` rejection as a transient failure: the fenced grant is delivered to again. */
export class DeliversAfterStaleEpoch extends Decorated {
  protected override wrap(handler: ShardHandler): ShardHandler {
    return {
      assigned: (grant) => handler.assigned(grant),
      revoked: (grant) => handler.revoked(grant),
      deliver: (grant, batch) =>
        handler.deliver(grant, batch).catch((error: unknown) => {
          throw isStale(error) ? new Error('retrying what was fenced') : error;
        }),
    };
  }
}

/** Ignores a rejected `assigned()`: delivers to the grant as if it had been accepted. */
export class IgnoresRefusedAssigned extends Decorated {
  protected override wrap(handler: ShardHandler): ShardHandler {
    return {
      assigned: (grant) => handler.assigned(grant).catch(() => -1),
      revoked: (grant) => handler.revoked(grant),
      deliver: (grant, batch) => handler.deliver(grant, batch),
    };
  }
}

/** Starts delivering without waiting for `assigned()` to resolve. */
export class DeliversBeforeAssigned extends Decorated {
  protected override wrap(handler: ShardHandler): ShardHandler {
    return {
      assigned: async (grant: ShardGrant) => {
        void handler.assigned(grant).catch(() => undefined);
        return -1;
      },
      revoked: (grant) => handler.revoked(grant),
      deliver: (grant, batch) => handler.deliver(grant, batch),
    };
  }
}

/** `depth()` counts what was ever enqueued: acknowledgements never lower it. */
export class DepthIgnoresAcks extends Decorated {
  readonly #enqueued = new Map<number, number>();

  override async enqueue(shard: number, messages: readonly TransportMessage[], options: EnqueueOptions): Promise<EnqueueResult> {
    const result = await super.enqueue(shard, messages, options);
    this.#enqueued.set(shard, (this.#enqueued.get(shard) ?? 0) + messages.length);
    return result;
  }

  override async depth(shard: number): Promise<number> {
    return Math.max(await super.depth(shard), this.#enqueued.get(shard) ?? 0);
  }
}

/** `depth()` is a sample refreshed once a second, without declaring `approximateDepth`. */
export class DepthSampledUndeclared extends Decorated {
  readonly #samples = new Map<number, { depth: number; at: number }>();

  override async depth(shard: number): Promise<number> {
    const sample = this.#samples.get(shard);
    if (sample !== undefined && performance.now() - sample.at < 1_000) return sample.depth;
    const depth = await super.depth(shard);
    this.#samples.set(shard, { depth, at: performance.now() });
    return depth;
  }
}

/** A `block` enqueue never times out: it goes on waiting for room until the transport closes. */
export class BlockNeverTimesOut extends Decorated {
  #closed = false;

  override async enqueue(shard: number, messages: readonly TransportMessage[], options: EnqueueOptions): Promise<EnqueueResult> {
    for (;;) {
      try {
        return await super.enqueue(shard, messages, options);
      } catch (error) {
        if (options.overflow !== 'block' || (error as { code?: unknown }).code !== 'TIMEOUT' || this.#closed) throw error;
      }
    }
  }

  override close(): Promise<void> {
    this.#closed = true;
    return super.close();
  }
}

/** `enqueueNow` that ignores `reserve`: it fills the slots kept for owners' follow-ups. */
export class NowIgnoresReserve extends Decorated {
  enqueueNow(shard: number, messages: readonly TransportMessage[], options: EnqueueOptions): boolean {
    return this.inner.enqueueNow(shard, messages, { ...options, reserve: 0 });
  }
}

/** `enqueueNow` that admits whatever fits, ahead of producers already waiting for room. */
export class NowPassesWaiters extends Decorated {
  enqueueNow(shard: number, messages: readonly TransportMessage[], options: EnqueueOptions): boolean {
    const queue = this.inner.broker.queues[shard]!;
    if (queue.ring.free < messages.length + options.reserve) return false;
    for (const message of messages) queue.ring.push(message);
    queue.wakeConsumer();
    return true;
  }
}
