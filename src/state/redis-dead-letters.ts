import type { Redis } from 'ioredis';
import { deadLetterId, type DeadLetter, type DeadLetterQueue, type Redrive } from './dead-letters.ts';

/**
 * The keys of a domain's dead letters: a capped list of JSON letters, a counter of all ever
 * added, and a hash of operators' redrives (letter id -> JSON {@link Redrive}).
 */
export function deadLetterKeys(prefix: string, domain: string): { list: string; count: string; redrives: string } {
  const base = `${prefix}:dead-letters:{${domain}}`;
  return { list: `${base}:list`, count: `${base}:count`, redrives: `${base}:redrives` };
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
 * delivered, the error, the attempt count) plus a counter of all letters ever added, and
 * what operators did with them (a hash of redrives by letter id).
 * The Redis state store writes a batch's letters into the same keys within its commit.
 */
export class RedisDeadLetterQueue implements DeadLetterQueue {
  readonly #client: Redis;
  readonly #listKey: string;
  readonly #countKey: string;
  readonly #redrivesKey: string;
  /** Newest letters kept. */
  readonly capacity: number;
  readonly #ownsClient: boolean;
  #closed = false;

  constructor(options: RedisDeadLetterQueueOptions) {
    this.#client = options.client;
    const keys = deadLetterKeys(options.prefix ?? 'shardline', options.domain);
    this.#listKey = keys.list;
    this.#countKey = keys.count;
    this.#redrivesKey = keys.redrives;
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
    const letters = raw.map((text) => JSON.parse(text) as DeadLetter);
    if (letters.length === 0) return letters;
    const redrives = await this.#client.hmget(this.#redrivesKey, ...letters.map(deadLetterId));
    return letters.map((letter, i) => (redrives[i] == null ? letter : { ...letter, redrive: JSON.parse(redrives[i]!) as Redrive }));
  }

  /** Records the redrive in the shared hash, so every process's `list` shows it. */
  async recordRedrive(letterId: string, redrive: Redrive): Promise<void> {
    await this.#client.hset(this.#redrivesKey, letterId, JSON.stringify(redrive));
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
