import type { Redis } from 'ioredis';
import type { DeadLetter, DeadLetterQueue } from './dead-letters.ts';

/** The keys of a domain's dead letters: a capped list of JSON letters and a counter of all ever added. */
export function deadLetterKeys(prefix: string, domain: string): { list: string; count: string } {
  const base = `${prefix}:dead-letters:{${domain}}`;
  return { list: `${base}:list`, count: `${base}:count` };
}

/** Where a {@link RedisDeadLetterQueue} keeps its letters. */
export interface RedisDeadLetterQueueOptions {
  /** An open connection; closed with the queue only when `ownsClient`. */
  readonly client: Redis;
  /** The domain whose failed commands are kept; part of the key. */
  readonly domain: string;
  /** Key prefix. @defaultValue `shardline` */
  readonly prefix?: string;
  /** Newest letters kept; older ones are dropped but still counted. @defaultValue 10000 */
  readonly capacity?: number;
  /** Close `client` with the queue. @defaultValue false */
  readonly ownsClient?: boolean;
}

/**
 * Dead letters in Redis, shared by every owner process of a domain and listable from
 * anywhere (`shardline dead-letters`): a capped list of JSON letters (the command as
 * delivered, the error, the attempt count) plus a counter of all letters ever added.
 * The Redis state store writes a batch's letters into the same keys within its commit.
 */
export class RedisDeadLetterQueue implements DeadLetterQueue {
  readonly #client: Redis;
  readonly #listKey: string;
  readonly #countKey: string;
  /** Newest letters kept. */
  readonly capacity: number;
  readonly #ownsClient: boolean;
  #closed = false;

  constructor(options: RedisDeadLetterQueueOptions) {
    this.#client = options.client;
    const keys = deadLetterKeys(options.prefix ?? 'shardline', options.domain);
    this.#listKey = keys.list;
    this.#countKey = keys.count;
    this.capacity = options.capacity ?? 10_000;
    this.#ownsClient = options.ownsClient ?? false;
  }

  async add(letter: DeadLetter): Promise<void> {
    await this.#client
      .multi()
      .rpush(this.#listKey, JSON.stringify(letter))
      .ltrim(this.#listKey, -this.capacity, -1)
      .incr(this.#countKey)
      .exec();
  }

  async list(limit = 100): Promise<DeadLetter[]> {
    if (limit <= 0) return [];
    const raw = await this.#client.lrange(this.#listKey, -limit, -1);
    return raw.map((text) => JSON.parse(text) as DeadLetter);
  }

  async count(): Promise<number> {
    return Number((await this.#client.get(this.#countKey)) ?? 0);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsClient) await this.#client.quit().catch(() => undefined);
  }
}
