/**
 * Decorators that forward every member of a transport or a state store to a real one, for
 * tests that break, slow or watch one member: a subclass overrides what it changes.
 */
import type { DeadLetterQueue } from '../../src/state/dead-letters.ts';
import type { EntityRead, ShardCommit, ShardSnapshot, StateStore } from '../../src/state/state-store.ts';
import type {
  EnqueueOptions,
  EnqueueResult,
  ShardHandler,
  Subscription,
  Transport,
  TransportInfo,
  TransportMessage,
} from '../../src/transports/transport.ts';

/** A transport that forwards to `inner`; `wrap` sees the handler the runtime consumes with. */
export class TransportDecorator<T extends Transport = Transport> implements Transport {
  readonly name: string;
  readonly inner: T;

  constructor(name: string, inner: T) {
    this.name = name;
    this.inner = inner;
  }

  connect(): Promise<TransportInfo> {
    return this.inner.connect();
  }

  enqueue(shard: number, messages: readonly TransportMessage[], options: EnqueueOptions): Promise<EnqueueResult> {
    return this.inner.enqueue(shard, messages, options);
  }

  depth(shard: number): Promise<number> {
    return this.inner.depth(shard);
  }

  consume(handler: ShardHandler): Promise<Subscription> {
    return this.inner.consume(this.wrap(handler));
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** What the inner transport calls instead of the handler; the handler itself by default. */
  protected wrap(handler: ShardHandler): ShardHandler {
    return handler;
  }
}

/** A state store that forwards to `inner`. */
export class StoreDecorator<S extends StateStore = StateStore> implements StateStore {
  readonly name: string;
  readonly inner: S;

  constructor(name: string, inner: S) {
    this.name = name;
    this.inner = inner;
  }

  get deadLetters(): DeadLetterQueue {
    return this.inner.deadLetters;
  }

  claim(shard: number, offeredEpoch: number): Promise<ShardSnapshot> {
    return this.inner.claim(shard, offeredEpoch);
  }

  load(shard: number, keys: readonly string[]): Promise<ReadonlyMap<string, unknown>> {
    return this.inner.load(shard, keys);
  }

  commit(shard: number, commit: ShardCommit): Promise<void> {
    return this.inner.commit(shard, commit);
  }

  read(shard: number, key: string, origin?: string): Promise<EntityRead> {
    return this.inner.read(shard, key, origin);
  }

  entries(): AsyncIterable<[string, unknown]> {
    return this.inner.entries();
  }

  status(shard: number): Promise<{ epoch: number; position: number }> {
    return this.inner.status(shard);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
