import { ClosedError } from '../../core/errors.ts';
import type {
  EnqueueOptions,
  EnqueueResult,
  ShardHandler,
  ShardOwner,
  Subscription,
  Transport,
  TransportInfo,
  TransportMessage,
} from '../transport.ts';
import { MemoryBroker, type MemoryBrokerOptions } from './memory-broker.ts';

export interface MemoryTransportOptions extends Partial<MemoryBrokerOptions> {
  /**
   * Share one broker between several transports to run several "processes" (owners and
   * producers) in one process, as tests of hand-over do. By default each transport has its own.
   */
  readonly broker?: MemoryBroker;
}

/** Defaults of the memory transport. */
export const MEMORY_DEFAULTS: MemoryBrokerOptions = {
  shards: 8,
  capacity: 4096,
  maxBatch: 512,
  revokeTimeoutMs: 5_000,
  retryDelayMs: 50,
};

/**
 * The embedded default transport: one bounded ring buffer per shard in this process, no
 * server. Ownership is this process's (spread over subscriptions when several consume).
 */
export class MemoryTransport implements Transport {
  readonly name = 'memory';
  readonly broker: MemoryBroker;
  readonly #ownsBroker: boolean;
  readonly #subscriptions: Subscription[] = [];
  #closed = false;

  constructor(options: MemoryTransportOptions = {}) {
    this.#ownsBroker = options.broker === undefined;
    this.broker = options.broker ?? new MemoryBroker({ ...MEMORY_DEFAULTS, ...withoutUndefined(options) });
  }

  /** A broker to share between transports: `new MemoryTransport({ broker })`. */
  static broker(options: Partial<MemoryBrokerOptions> = {}): MemoryBroker {
    return new MemoryBroker({ ...MEMORY_DEFAULTS, ...withoutUndefined(options) });
  }

  async connect(): Promise<TransportInfo> {
    if (this.#closed) throw new ClosedError('memory transport');
    return { shardCount: this.broker.options.shards, capacity: this.broker.options.capacity };
  }

  enqueue(shard: number, messages: readonly TransportMessage[], options: EnqueueOptions): Promise<EnqueueResult> {
    if (this.#closed) return Promise.reject(new ClosedError('memory transport'));
    const turn = this.broker.turns.due();
    if (turn !== undefined) return turn.then(() => this.enqueue(shard, messages, options));
    const queue = this.broker.queues[shard];
    if (queue === undefined) {
      return Promise.reject(new RangeError(`Expected shard in 0..${this.broker.queues.length - 1}, got ${shard}`));
    }
    return queue.enqueue(messages, options);
  }

  enqueueNow(shard: number, messages: readonly TransportMessage[], options: EnqueueOptions): boolean {
    return !this.#closed && this.broker.turns.dueSometimes() === undefined && this.broker.queues[shard]?.enqueueNow(messages, options) === true;
  }

  async depth(shard: number): Promise<number> {
    return this.broker.queues[shard]?.ring.size ?? 0;
  }

  /** Per shard, the subscription (member) holding it, with this process's pid and host. */
  async owners(): Promise<readonly (ShardOwner | undefined)[]> {
    return this.broker.owners();
  }

  /** The most messages shard `shard` ever held at once. */
  highWater(shard: number): number {
    return this.broker.queues[shard]?.ring.highWater ?? 0;
  }

  async consume(handler: ShardHandler): Promise<Subscription> {
    if (this.#closed) throw new ClosedError('memory transport');
    const member = this.broker.join(handler);
    let closing: Promise<void> | undefined;
    const subscription: Subscription = {
      owned: () => [...member.runners.values()].filter((runner) => runner.active).map((runner) => runner.grant),
      close: () => (closing ??= this.broker.leave(member)),
    };
    this.#subscriptions.push(subscription);
    return subscription;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.#subscriptions.map((subscription) => subscription.close()));
    if (this.#ownsBroker) {
      for (const queue of this.broker.queues) queue.failWaiters(new ClosedError('memory transport'));
    }
  }
}

function withoutUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}
