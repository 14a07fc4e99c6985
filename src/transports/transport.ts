/**
 * The transport contract: what a queue adapter (memory, bullmq, kafka, or your own)
 * implements. A transport moves opaque encoded commands between producers and the one
 * owner of each shard; it knows nothing of domains, handlers or state.
 *
 * Guarantees every implementation must give, checked by `shardline/testing`:
 * 1. per-shard FIFO: messages of a shard are delivered in the order they were enqueued,
 *    each with the key it was enqueued with;
 * 2. at-least-once: a message is delivered again until a `deliver` call that contained it
 *    resolved (acknowledged), including after its owner died or lost the shard. A batch
 *    whose `deliver` rejected is delivered again, to the same grant, before any later
 *    message of the shard;
 * 3. positions: each message of a shard has an integer position in `0..MAX_POSITION`,
 *    strictly greater than every earlier message's of that shard, the same on every
 *    redelivery;
 * 4. bounded enqueue: `block` and `reject` enqueues never make a shard hold more than
 *    `capacity` unacknowledged messages; only `force` (owners breaking a wait cycle) may.
 *    An enqueue is all or none;
 * 5. exclusive ownership: while processes are healthy, at most one subscription across
 *    all processes holds a grant of a shard at any moment (a grant is held from the call
 *    of `assigned` until `revoked` returned), and the handler hears of every gain and
 *    loss. A grant's epoch, when the transport has one, is greater than every earlier
 *    grant's of that shard. (A paused "zombie" may still hold a revoked grant: the state
 *    store's epoch, not the transport, is what fences it.)
 * 6. `close()` hands every shard over at once (no waiting for a lease to lapse) and
 *    releases every connection, timer and socket; it is idempotent.
 *
 * The runtime (`Producer`, `Owner`) awaits `connect()` before it calls `enqueue`, `depth`
 * or `consume`; a transport need not accept those calls earlier.
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
   * decoding; any other transport ignores it (deliveries carry `value` only). Hand it
   * through as it is: it may compute fields when read (a producer's command joins its `id`
   * from `origin` and `seq`), so a copy made by spreading it would lose them.
   */
  readonly command?: Command;
}

/** A message as delivered to the owner of its shard. */
export interface Delivery extends TransportMessage {
  /**
   * An integer in `0..MAX_POSITION`, strictly increasing within the shard and stable
   * across redeliveries. An owner stops a shard whose positions break these rules with a
   * `TransportContractError`, because skipping would lose commands.
   */
  readonly position: number;
  /**
   * The command as parsed JSON, set by a transport whose own framing parsed it already
   * (BullMQ jobs carry commands as JSON objects): the owner checks it exactly as it checks
   * a decoded `value`, trusting nothing, and skips parsing `value` again. `value` must
   * still give the command's encoding (it may make it when read) for dead letters.
   */
  readonly json?: unknown;
  /**
   * Set by a transport that found something at this position it cannot read as one of
   * shardline's messages (a job another program added, a record without a value): why.
   * The owner dead-letters it with this reason, `value` holding what was found, and the
   * shard moves on. A transport must never throw or stop a shard over such a message.
   */
  readonly unreadable?: string;
}

/**
 * The highest position a transport may give, 2^37 − 1 (about 137 billion): follow-ups take
 * `position * 65536 + index` (index < 65536) as their sequence number, which must stay a
 * safe integer (at most 2^53 − 1).
 */
export const MAX_POSITION = 2 ** 37 - 1;

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
   * one that removes acknowledged messages (memory, BullMQ) may ignore it. No `deliver`
   * for the grant may start before this resolved.
   *
   * A rejection (the store refused the epoch) voids the grant: the transport delivers
   * nothing to it, does not call `revoked` for it, and lets go of the shard (a broker-side
   * lease is released) so that it can be granted again, to this subscription or another,
   * after a retry delay.
   */
  assigned(grant: ShardGrant): Promise<number>;
  /**
   * Messages of one shard, in order. Resolving acknowledges all of them. Rejecting
   * acknowledges none: the transport delivers them again, to this grant, starting with
   * the first of them, before any later message of the shard (after a retry delay).
   *
   * Rejecting with an error whose `code` is `STALE_EPOCH` means the owner was fenced: the
   * grant is over. The transport delivers nothing more to it, calls `revoked(grant)`, and
   * lets go of the shard as for a lost grant. It may grant the shard again later, with a
   * new grant, only where its ownership (a lease, a current group assignment) says so.
   */
  deliver(grant: ShardGrant, batch: readonly Delivery[]): Promise<void>;
  /**
   * Ownership of the shard is gone; called once the `deliver` in hand settled (or a
   * revoke timeout passed), and no `deliver` for this grant follows.
   */
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
  /**
   * True when `depth()` is a sample that may lag (Kafka's consumer lag); otherwise it is
   * exactly the messages enqueued and not yet acknowledged. Default false.
   */
  readonly approximateDepth?: boolean;
}

/** Who holds a shard now, as a transport that can tell reports it (`shardline inspect`). */
export interface ShardOwner {
  /** The member (consumer process or subscription) id the transport knows it by. */
  readonly member: string;
  /** Where it runs, when the transport knows. */
  readonly host?: string;
  readonly pid?: number;
  /** The transport's epoch of the grant (0 when it has none). */
  readonly epoch: number;
  /** Since when it holds the shard (ms since the epoch), when known. */
  readonly since?: number;
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
  /**
   * Optional, for transports that admit without any I/O (in-process ones): does what
   * `enqueue` would, synchronously, when that needs no wait, and returns true; returns
   * false having done nothing when `enqueue` would wait for room, refuse or fail. The
   * runtime calls it only while none of its enqueues to that shard is pending, so per-shard
   * order holds, and spares a promise and a turn of the event loop per command.
   */
  enqueueNow?(shard: number, messages: readonly TransportMessage[], options: EnqueueOptions): boolean;
  /** Unacknowledged messages of a shard now (a sample where `approximateDepth`). */
  depth(shard: number): Promise<number>;
  /**
   * Optional: per shard, who holds it now (`undefined` for a shard nobody holds), for
   * inspection. Reads only; never claims or moves anything.
   */
  owners?(): Promise<readonly (ShardOwner | undefined)[]>;
  /**
   * Joins ownership: from now on this process may be granted shards and receive their
   * messages through `handler`. One call per transport instance.
   */
  consume(handler: ShardHandler): Promise<Subscription>;
  /** Closes subscriptions (handing their shards over at once) and connections; idempotent. */
  close(): Promise<void>;
}
