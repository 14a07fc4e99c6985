import type { DeadLetter, DeadLetterQueue } from './dead-letters.ts';

/**
 * Where owners keep entity state, the last applied position and the ownership epoch of
 * each shard. A store instance serves one domain. The store is the fencing authority:
 * every `claim` moves the shard to a strictly greater epoch, and `commit` refuses any
 * epoch but the current one with `StaleEpochError`, so an owner that was paused while
 * another claimed the shard can never write again.
 */

/** What a new owner of a shard starts from. */
export interface ShardSnapshot {
  /** The shard's new epoch: the fencing token every commit of this owner must carry. */
  readonly epoch: number;
  /** Position of the last applied command, -1 when none was. */
  readonly position: number;
  /** Ids of the most recently applied commands without an origin, oldest first (the dedupe window). */
  readonly recentIds: readonly string[];
  /** The highest `seq` applied per command origin (producers, and shards emitting follow-ups). */
  readonly marks: ReadonlyMap<string, number>;
  /** Encoded follow-up commands committed but maybe not yet sent; the new owner sends them again. */
  readonly outbox: readonly OutboxMessage[];
}

/** A follow-up command waiting to be sent. */
export interface OutboxMessage {
  readonly key: string;
  readonly value: string;
}

/** One batch's effect on a shard, written all at once or not at all. */
export interface ShardCommit {
  readonly epoch: number;
  /** Position of the last command of the batch (applied, rejected, duplicate or dead-lettered). */
  readonly position: number;
  /** New state of every entity the batch changed. */
  readonly changes: ReadonlyMap<string, unknown>;
  /** Ids the batch applied that had no origin, appended to the dedupe window (which keeps the newest `dedupeWindow`). */
  readonly appliedIds: readonly string[];
  /** Origins whose highest applied `seq` the batch raised, with the new value. */
  readonly marks: ReadonlyMap<string, number>;
  /**
   * Origins the owner stopped tracking (least recently seen, beyond its limit); delete them
   * before writing `marks`: an origin forgotten and then met again in the same batch is in
   * both, and keeps its new mark.
   */
  readonly forgottenMarks: readonly string[];
  /** Follow-ups not yet sent (earlier ones still unsent, then the batch's); replaces the shard's outbox. */
  readonly outbox: readonly OutboxMessage[];
  /** Commands of the batch that could not be applied; added to `deadLetters` in the same write. */
  readonly deadLetters: readonly DeadLetter[];
}

/**
 * One entity as the shard's last commit left it, read in one step together with where the
 * shard stands, so that the state, the position and the mark always belong together.
 */
export interface EntityRead {
  /** Whether a commit ever wrote the entity; when not, `state` is `undefined`. */
  readonly found: boolean;
  /** The committed state (a JSON value, `null` included). */
  readonly state: unknown;
  /**
   * The position of the shard's last commit: the state reflects every command of the shard
   * at or below it and none above it (-1 when nothing was committed).
   */
  readonly position: number;
  /** The shard's epoch when read (0 for a shard never claimed); the last commit carried it or an older one. */
  readonly epoch: number;
  /** The highest applied `seq` of the origin asked about, `undefined` when none was asked or the shard tracks none for it. */
  readonly mark: number | undefined;
}

export interface StateStore {
  /** Short name for logs (`memory`, `redis`). */
  readonly name: string;
  /**
   * True when the state lives in this process, so that `load` costs no I/O: owners then
   * keep no cache of their own (`stateCacheEntries`) in front of it.
   */
  readonly inProcess?: boolean;
  /**
   * The dead letters this store's commits recorded: written atomically with the batch
   * they belong to, so a fenced owner's batch leaves none and a crash loses none.
   */
  readonly deadLetters: DeadLetterQueue;
  /**
   * Takes the shard over: atomically sets its epoch to `max(current + 1, offeredEpoch)`
   * (the transport's epoch, 0 if it has none) and returns that epoch with where the
   * shard stands. Every earlier claimant is fenced from then on.
   */
  claim(shard: number, offeredEpoch: number): Promise<ShardSnapshot>;
  /**
   * Current state of the given entities of a shard; keys never written are absent. The
   * map may hold other entities too (the memory store returns its own map, unchanged).
   */
  load(shard: number, keys: readonly string[]): Promise<ReadonlyMap<string, unknown>>;
  /**
   * Writes a batch atomically; refuses with `StaleEpochError` when `commit.epoch` is not the
   * shard's current epoch. A commit whose position is at or below the position an earlier
   * commit stored (under the current epoch) is a repeat of one that landed, sent again
   * after its reply was lost: it changes nothing. Entity states are JSON values; keys, ids
   * and origins may be any string.
   */
  commit(shard: number, commit: ShardCommit): Promise<void>;
  /**
   * One entity of a shard with the shard's position and epoch and, when `origin` is given,
   * that origin's mark, all as of one moment between commits: a read never sees part of a
   * commit. Reads only; any process may call it, never blocking the owner.
   */
  read(shard: number, key: string, origin?: string): Promise<EntityRead>;
  /** Every entity of the domain (for inspection and tests; may be slow on large stores). */
  entries(): AsyncIterable<[key: string, state: unknown]>;
  /**
   * The recorded epoch and position of a shard, without claiming it: how an owner whose
   * commit failed without saying whether it landed finds out (`{ epoch: 0, position: -1 }`
   * for a shard never claimed).
   */
  status(shard: number): Promise<{ epoch: number; position: number }>;
  /** Releases what this instance holds; idempotent. */
  close(): Promise<void>;
}
