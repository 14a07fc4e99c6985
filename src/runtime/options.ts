import { z } from 'zod';

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();

/** Largest encoded command, in bytes, that producers send and owners apply by default. */
const DEFAULT_MAX_COMMAND_BYTES = 64 * 1024;

/** Producer tuning; every field has a default. */
export const producerSettingsSchema = z.object({
  /** What a full shard does to `send`: wait (`block`) or throw `QueueFullError` (`reject`). */
  overflow: z.enum(['block', 'reject']).default('block'),
  /** How long `block` waits for room before `TimeoutError`. */
  enqueueTimeoutMs: positiveInt.default(30_000),
  /** How long `request()` waits for its reply, enqueue included. */
  requestTimeoutMs: positiveInt.default(30_000),
  /** Largest encoded command accepted, in bytes. */
  maxCommandBytes: positiveInt.default(DEFAULT_MAX_COMMAND_BYTES),
  /**
   * How long a shard's batch waits for more commands; 0 batches only what is sent in the
   * same tick. A transport that enqueues at once (`enqueueNow`: memory) takes a command
   * without any wait while its shard has room and nothing of the lane is pending.
   */
  lingerMs: nonNegativeInt.default(0),
  /** Most commands per enqueue. */
  maxBatch: positiveInt.default(256),
  /** Slots per shard that producers leave free for owners' follow-up commands; default capacity/8. */
  followUpReserve: nonNegativeInt.optional(),
});

export type ProducerSettings = z.output<typeof producerSettingsSchema>;

/** Owner tuning; every field has a default. */
export const ownerSettingsSchema = z.object({
  /** Handler runs per command before it is dead-lettered (1 = no retry). */
  maxAttempts: positiveInt.default(3),
  /** Backoff before the first retry; doubles on each further one. */
  retryBackoffMs: nonNegativeInt.default(10),
  /**
   * Recent command ids per shard remembered to skip resent commands that carry no
   * origin/seq (commands from producers that are not shardline's).
   */
  dedupeWindow: positiveInt.default(10_000),
  /** Origins (producers, emitting shards) per shard whose highest `seq` is tracked; the least recently seen are forgotten beyond it. */
  maxOrigins: positiveInt.default(10_000),
  /**
   * Largest delivered command applied, in UTF-8 bytes of its encoding; a larger one is
   * dead-lettered undecoded (a foreign writer is not bound by any producer's limit), and a
   * handler's `ctx.emit` of a larger follow-up throws `InvalidCommandError`. Commands a
   * producer of this process handed through the memory transport unencoded were checked
   * against that producer's limit instead.
   */
  maxCommandBytes: positiveInt.default(DEFAULT_MAX_COMMAND_BYTES),
  /** Check each payload against its schema again at the owner (commands may come from other producers). */
  validateAtOwner: z.boolean().default(true),
  /**
   * How long follow-ups wait for room in a full shard before they are admitted beyond its
   * capacity. Waiting passes backpressure on to producers; the limit breaks the deadlock of
   * owners that wait on each other's full queues.
   */
  followUpForceAfterMs: positiveInt.default(1_000),
  /** Unsent follow-ups per shard beyond which the owner waits before its next batch. */
  outboxLimit: positiveInt.default(8_192),
  /** Most follow-up commands per enqueue. */
  maxBatch: positiveInt.default(512),
  /**
   * Entities of its shards an owner keeps in memory as its last commit left them, over all
   * its shards, least recently used evicted: a batch reads the store only for the others.
   * 0 reads the store for every batch. Unused with a store that keeps state in process.
   */
  stateCacheEntries: nonNegativeInt.default(100_000),
  /**
   * Keys per shard the hot-key sketch holds (space-saving; about 100 bytes per slot plus the
   * key's characters); 0 turns hot keys off.
   */
  hotKeySlots: nonNegativeInt.max(4096).default(64),
  /** Half-life of the hot-key counts: every this long, each shard's counts are halved. */
  hotKeyHalfLifeMs: positiveInt.default(60_000),
  /** Shortest time between two hot-key publishes of one shard (to the board and the metric). */
  hotKeyPublishMs: positiveInt.default(5_000),
});

export type OwnerSettings = z.output<typeof ownerSettingsSchema>;
