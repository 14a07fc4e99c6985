import { z } from 'zod';
import { ConfigError } from '../core/errors.ts';

/** One key of a shard's published top list. */
export interface HotKey {
  readonly key: string;
  /** Share of the shard's recent commands (0..1), estimated as `count / total`. */
  readonly share: number;
  /** Estimated recent (decayed) commands of the key. */
  readonly count: number;
  /** The part of `count` inherited when the key took its slot: `count - error` is a lower bound of its true count. */
  readonly error: number;
}

/**
 * What an owner publishes about one shard's recent traffic, at most every
 * `hotKeyPublishMs` while commands arrive: its hottest keys, who counted them and when.
 */
export interface HotKeySnapshot {
  readonly shard: number;
  /** The fencing epoch the publishing owner held the shard at. */
  readonly epoch: number;
  /** The publishing owner's host and process id. */
  readonly host: string;
  readonly pid: number;
  /** When it was published (ms since the epoch). */
  readonly at: number;
  /** Recent commands counted, decayed with a half-life of `halfLifeMs`: the denominator of each share. */
  readonly total: number;
  readonly halfLifeMs: number;
  /** The hottest keys, hottest first. */
  readonly keys: readonly HotKey[];
}

/**
 * Where owners publish their shards' hot keys and any process reads them: a snapshot per
 * shard, replaced by each publish and gone `ttlMs` after the last one (a shard with no
 * recent commands has no hot keys). In this process only (memory) or shared (Redis).
 */
export interface HotKeyBoard {
  /** Short name for logs (`memory`, `redis`). */
  readonly name: string;
  /** Replaces the shard's snapshot. */
  publish(snapshot: HotKeySnapshot): Promise<void>;
  /** The live snapshot of each of `shards`, in order; `undefined` for a shard with none (or one that is not ours). */
  read(shards: readonly number[]): Promise<(HotKeySnapshot | undefined)[]>;
  /** Releases what this instance holds; idempotent. */
  close(): Promise<void>;
}

/** How long a snapshot lives after its publish, by default: twelve publishes at the default interval. */
export const HOT_KEY_TTL_MS = 60_000;

const count = z.number().finite().nonnegative();
const snapshotSchema = z.strictObject({
  shard: z.number().int().nonnegative(),
  epoch: z.number().int().nonnegative(),
  host: z.string(),
  pid: z.number().int().nonnegative(),
  at: z.number().finite(),
  total: count,
  halfLifeMs: z.number().int().positive(),
  keys: z.array(z.strictObject({ key: z.string(), share: z.number().min(0).max(1), count, error: count })).max(1024),
});

/**
 * A snapshot read back from a shared board, or `undefined` when the text is not one or is
 * another shard's: a board is shared, and what another program wrote there is not trusted.
 */
export function decodeHotKeySnapshot(text: string, shard: number): HotKeySnapshot | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = snapshotSchema.safeParse(value);
  return parsed.success && parsed.data.shard === shard ? parsed.data : undefined;
}

/**
 * The board of one process: an owner's snapshots are readable by code in the same process
 * (a dashboard mounted in the consumer, tests), not by `shardline inspect` elsewhere.
 */
export class MemoryHotKeyBoard implements HotKeyBoard {
  readonly name = 'memory';
  readonly #snapshots = new Map<number, HotKeySnapshot>();
  readonly #ttlMs: number;

  /** @param options.ttlMs how long a snapshot is read after its publish. @defaultValue 60000 */
  constructor(options: { ttlMs?: number } = {}) {
    this.#ttlMs = options.ttlMs ?? HOT_KEY_TTL_MS;
  }

  async publish(snapshot: HotKeySnapshot): Promise<void> {
    this.#snapshots.set(snapshot.shard, snapshot);
  }

  async read(shards: readonly number[]): Promise<(HotKeySnapshot | undefined)[]> {
    const oldest = Date.now() - this.#ttlMs;
    return shards.map((shard) => {
      const snapshot = this.#snapshots.get(shard);
      return snapshot !== undefined && snapshot.at >= oldest ? snapshot : undefined;
    });
  }

  async close(): Promise<void> {}
}

/**
 * The hot keys of shards `0 .. shardCount - 1` as the owners last published them: one entry
 * per shard, in shard order, `undefined` where no live snapshot is (no recent commands, no
 * owner publishing, or a board of another process). What `shardline inspect` shows and a
 * dashboard reads; it never touches an owner.
 *
 * ```ts
 * const board = new RedisHotKeyBoard({ client, domain: 'accounts' });
 * const shards = await readHotKeys(board, 8);
 * shards[3]?.keys[0]; // { key: 'acct-7', share: 0.41, count: 812.5, error: 0 }
 * ```
 */
export async function readHotKeys(board: HotKeyBoard, shardCount: number): Promise<(HotKeySnapshot | undefined)[]> {
  if (!Number.isInteger(shardCount) || shardCount < 0) throw new ConfigError([`readHotKeys: expected shardCount to be a non-negative integer, got ${String(shardCount)}`]);
  return board.read(Array.from({ length: shardCount }, (_, shard) => shard));
}

/**
 * The shard's snapshot if its publisher still holds the shard: one published under an epoch
 * older than the store's came from an owner fenced since, and is `null` like a missing one.
 */
export function liveHotKeys(snapshot: HotKeySnapshot | undefined, storeEpoch: number): HotKeySnapshot | null {
  return snapshot !== undefined && snapshot.epoch >= storeEpoch ? snapshot : null;
}
