/**
 * The transport contract: what a queue adapter (memory, bullmq, kafka, or your own)
 * implements. A transport moves opaque encoded commands between producers and the one
 * owner of each shard; it knows nothing of domains, handlers or state.
 *
 * Guarantees every implementation must give, checked by `shardline/testing`:
 * 1. per-shard FIFO: messages of a shard are delivered in the order they were enqueued;
 * 2. at-least-once: a message is delivered again until a `deliver` call that contained it
 *    resolved (acknowledged), including after its owner died or lost the shard;
 * 3. positions: each message of a shard has a safe-integer position, strictly greater
 *    than every earlier message's of that shard, the same on every redelivery;
 * 4. bounded enqueue: `block` and `reject` enqueues never make a shard hold more than
 *    `capacity` unacknowledged messages; only `force` (owners breaking a wait cycle) may;
 * 5. exclusive ownership: while processes are healthy, at most one subscription across
 *    all processes receives deliveries of a shard, and the handler hears of every gain and
 *    loss. A grant's epoch, when the transport has one, is greater than every earlier
 *    grant's of that shard. (A paused "zombie" may still hold a revoked grant: the state
 *    store's epoch, not the transport, is what fences it.)
 * 6. `close()` releases everything (connections, timers, ownership) and is idempotent.
 */

import type { Command } from '../core/command.ts';

/** One encoded command, as a producer hands it to a transport. */
export interface TransportMessage {
  /** The entity key; transports with native keys (Kafka) put it on the record. */
  readonly key: string;
  /**
   * The encoded command; opaque to the transport, carried byte for byte. It may be
   * encoded on first read, so a transport that never leaves the process need not read it.
   */
  readonly value: string;
  /**
   * The command itself, present when the producer is in this process. A transport that
   * keeps messages in memory may hand it through on the delivery so the owner skips
   * decoding; any other transport ignores it (deliveries carry `value` only).
   */
  readonly command?: Command;
}

/** A message as delivered to the owner of its shard. */
export interface Delivery extends TransportMessage {
  /**
   * Strictly increasing within the shard and stable across redeliveries. At most 2^37
   * (about 137 billion): follow-ups take `position * 65536 + index` as their sequence
   * number, which must stay a safe integer.
   */
  readonly position: number;
}

/**
 * What a full shard does to an enqueue: `block` waits for room, `reject` fails at once,
 * `force` admits beyond capacity. Producers use the first two; an owner uses `force` only
 * for follow-ups that waited too long, because owners waiting on each other's full queues
 * would otherwise deadlock.
 */
export type OverflowPolicy = 'block' | 'reject' | 'force';

export interface EnqueueOptions {
  /** `block`: wait for room up to `timeoutMs`; `reject`: throw `QueueFullError` at once; `force`: admit now. */
  readonly overflow: OverflowPolicy;
  /** How long `block` may wait for room before throwing `TimeoutError`. */
  readonly timeoutMs: number;
  /**
   * Slots that must still be free after this enqueue. Producers keep a reserve so that
   * owners' follow-up commands (enqueued with 0) always find room and owners that send
   * to each other cannot deadlock on full queues.
   */
  readonly reserve: number;
}

export interface EnqueueResult {
  /** Time spent waiting for room, in milliseconds (0 when there was room at once). */
  readonly waitedMs: number;
}

/** Ownership of one shard, as granted by the transport. */
export interface ShardGrant {
  readonly shard: number;
  /**
   * The transport's own fencing token (lease counter, generation), greater than every
   * earlier grant's of this shard; 0 when the transport has none. The state store's claim
   * turns it into the epoch that fences commits: `max(stored + 1, epoch)`.
   */
  readonly epoch: number;
}

/**
 * What the owner runtime gives a transport to receive shards and their messages.
 * Per shard, calls are sequential: `assigned`, then `deliver` calls one at a time, then
 * `revoked`. Different shards may be called concurrently.
 */
export interface ShardHandler {
  /**
   * This subscription now owns `grant.shard`. Resolves with the position of the last
   * message already applied (or -1): a transport that can seek (Kafka) resumes after it;
   * one that removes acknowledged messages (memory, BullMQ) may ignore it. A rejection
   * (the store refused the epoch) means the grant is unusable: release the shard.
   */
  assigned(grant: ShardGrant): Promise<number>;
  /**
   * Messages of one shard, in order. Resolving acknowledges all of them. Rejecting
   * acknowledges none: the transport delivers them again later. Rejecting with an error
   * whose `code` is `STALE_EPOCH` means the owner was fenced: stop delivering the shard to
   * this subscription and give it up.
   */
  deliver(grant: ShardGrant, batch: readonly Delivery[]): Promise<void>;
  /** Ownership of the shard is gone; no `deliver` for this grant follows once called. */
  revoked(grant: ShardGrant): Promise<void>;
}

/** A running consumer: ownership participation plus deliveries. */
export interface Subscription {
  /** The grants this subscription holds now. */
  owned(): readonly ShardGrant[];
  /**
   * Stops taking new deliveries, waits for the one in hand, releases every shard (each
   * gets `revoked`) so that another subscription can take it. Idempotent.
   */
  close(): Promise<void>;
}

/** What `connect()` learned: the shard count and the per-shard bound in force. */
export interface TransportInfo {
  readonly shardCount: number;
  /** Maximum unacknowledged messages per shard. */
  readonly capacity: number;
}

export interface Transport {
  /** Short name for metrics and logs (`memory`, `bullmq`, `kafka`, ...). */
  readonly name: string;
  /** Connects (idempotent) and reports the shard count and capacity; fails with a clear error naming the endpoint. */
  connect(): Promise<TransportInfo>;
  /**
   * Appends messages to one shard's queue, all or none, in order, after everything
   * enqueued to that shard before this call resolved. Unless `overflow` is `force`, never
   * exceeds `capacity`, and a batch larger than `capacity - reserve` throws `QueueFullError`.
   */
  enqueue(shard: number, messages: readonly TransportMessage[], options: EnqueueOptions): Promise<EnqueueResult>;
  /** Unacknowledged messages of a shard now (approximate where the transport samples it). */
  depth(shard: number): Promise<number>;
  /**
   * Joins ownership: from now on this process may be granted shards and receive their
   * messages through `handler`. One call per transport instance.
   */
  consume(handler: ShardHandler): Promise<Subscription>;
  /** Closes subscriptions and connections; idempotent. */
  close(): Promise<void>;
}
