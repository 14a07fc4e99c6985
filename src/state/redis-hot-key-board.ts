import type { Redis } from 'ioredis';
import { decodeHotKeySnapshot, HOT_KEY_TTL_MS, type HotKeyBoard, type HotKeySnapshot } from './hot-key-board.ts';

/** Where a {@link RedisHotKeyBoard} keeps its snapshots. */
export interface RedisHotKeyBoardOptions {
  /** An open connection; closed with the board only when `ownsClient`. */
  readonly client: Redis;
  /** The domain whose shards are published; part of every key. */
  readonly domain: string;
  /** Key prefix. @defaultValue `shardline` */
  readonly prefix?: string;
  /** How long a snapshot lives after its publish. @defaultValue 60000 */
  readonly ttlMs?: number;
  /** Close `client` with the board. @defaultValue false */
  readonly ownsClient?: boolean;
}

/**
 * Hot-key snapshots in Redis, readable from any process (`shardline inspect`, a dashboard):
 * one JSON string per shard, `SET` with a TTL by each publish, so a shard whose owner
 * stopped publishing (no recent commands, or gone) drops out by itself. The keys of a
 * domain share a hash tag, so one `MGET` reads every shard, in a cluster too.
 */
export class RedisHotKeyBoard implements HotKeyBoard {
  readonly name = 'redis';
  readonly #client: Redis;
  readonly #base: string;
  readonly #ttlMs: number;
  readonly #ownsClient: boolean;
  #closed = false;

  constructor(options: RedisHotKeyBoardOptions) {
    this.#client = options.client;
    this.#base = `${options.prefix ?? 'shardline'}:hot-keys:{${options.domain}}`;
    this.#ttlMs = options.ttlMs ?? HOT_KEY_TTL_MS;
    this.#ownsClient = options.ownsClient ?? false;
  }

  async publish(snapshot: HotKeySnapshot): Promise<void> {
    await this.#client.set(`${this.#base}:${snapshot.shard}`, JSON.stringify(snapshot), 'PX', this.#ttlMs);
  }

  async read(shards: readonly number[]): Promise<(HotKeySnapshot | undefined)[]> {
    if (shards.length === 0) return [];
    const texts = await this.#client.mget(shards.map((shard) => `${this.#base}:${shard}`));
    return texts.map((text, i) => (text === null ? undefined : decodeHotKeySnapshot(text, shards[i]!)));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsClient) await this.#client.quit().catch(() => undefined);
  }
}
