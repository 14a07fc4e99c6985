import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { ClosedError, ConnectionError, QueueFullError, TimeoutError } from '../../core/errors.ts';
import { silentLogger, type Logger } from '../../common/logger.ts';
import { openRedis } from '../../common/redis.ts';
import { redact } from '../../common/urls.ts';
import type {
  EnqueueOptions,
  EnqueueResult,
  ShardHandler,
  Subscription,
  Transport,
  TransportInfo,
  TransportMessage,
} from '../transport.ts';
import { shardKeys, type ShardKeys } from './keys.ts';
import { MESSAGES_PER_JOB, parseBullmqOptions, type BullmqOptions, type BullmqOptionsInput } from './options.ts';
import { Ownership } from './ownership.ts';
import { TransportScripts } from './scripts.ts';
import type { JobData } from './shard-runner.ts';
import { pause } from './signal.ts';
import { Wakeups } from './wakeups.ts';

interface Connected {
  readonly client: Redis;
  readonly scripts: TransportScripts;
  readonly queues: readonly Queue[];
}

/**
 * The Redis transport: one BullMQ queue per shard (`prefix:domain.shard`), each job a
 * batch of encoded commands of one shard, added with BullMQ's `Queue.add`/`addBulk`.
 * Producers first reserve room in an atomic per-shard counter (so the capacity holds for
 * any number of producer processes), then add the job. Consumers register with a
 * heartbeat, agree on owners by rendezvous hashing over the live members, and hold a
 * Redis lease per shard whose every new grant takes the shard's next epoch; a
 * shard runner (`shard-runner.ts`) works the shard's queue only while its lease holds.
 */
export class BullmqTransport implements Transport {
  readonly name = 'bullmq';
  readonly options: BullmqOptions;
  readonly #logger: Logger;
  readonly #keys: ShardKeys[];
  readonly #ownerships: Ownership[] = [];
  readonly #wakeupClients: Wakeups[] = [];
  #connecting: Promise<Connected> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: BullmqOptionsInput & { logger?: Logger }) {
    const { logger, ...rest } = options;
    this.options = parseBullmqOptions(rest);
    this.#logger = logger ?? silentLogger;
    this.#keys = Array.from({ length: this.options.shards }, (_, shard) => shardKeys(this.options.prefix, this.options.domain, shard));
  }

  async connect(): Promise<TransportInfo> {
    await this.#connected();
    return { shardCount: this.options.shards, capacity: this.options.capacity };
  }

  #connected(): Promise<Connected> {
    if (this.#closing !== undefined) return Promise.reject(new ClosedError('bullmq transport'));
    this.#connecting ??= openRedis(this.options.url, `shardline:${this.options.domain}`).then((client) => {
      const queues = this.#keys.map((keys) => new Queue(keys.queue, { connection: client, prefix: this.options.prefix, skipVersionCheck: true }));
      for (const queue of queues) queue.on('error', (error) => this.#logger.warn({ queue: queue.name, err: error }, 'bullmq queue error'));
      return { client, scripts: new TransportScripts(client), queues };
    });
    this.#connecting.catch(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async enqueue(shard: number, messages: readonly TransportMessage[], options: EnqueueOptions): Promise<EnqueueResult> {
    const keys = this.#keys[shard];
    if (keys === undefined) throw new RangeError(`Expected shard in 0..${this.#keys.length - 1}, got ${shard}`);
    if (messages.length === 0) return { waitedMs: 0 };
    const { capacity } = this.options;
    if (options.overflow !== 'force' && messages.length + options.reserve > capacity) {
      throw new QueueFullError(shard, capacity, `a batch of ${messages.length} with a reserve of ${options.reserve} can never fit`);
    }
    const { scripts, queues } = await this.#connected();
    const started = performance.now();
    const tokens = Array.from({ length: Math.ceil(messages.length / MESSAGES_PER_JOB) }, () => randomBytes(8).toString('hex'));
    const chunks = tokens.map((token, i) => messages.slice(i * MESSAGES_PER_JOB, (i + 1) * MESSAGES_PER_JOB));
    let wait = 1;
    for (;;) {
      const { admitted, held } = await this.#reserveAll(scripts, keys, chunks, tokens, options);
      if (admitted) break;
      if (options.overflow === 'reject') {
        throw new QueueFullError(shard, capacity, `${held} held, ${messages.length} more asked, ${options.reserve} kept in reserve`);
      }
      const left = options.timeoutMs - (performance.now() - started);
      if (left <= 0) throw new TimeoutError('enqueue', options.timeoutMs, `shard ${shard} stayed full (capacity ${capacity})`);
      if (this.#closing !== undefined) throw new ClosedError('bullmq transport');
      await pause(Math.min(wait, left));
      wait = Math.min(wait * 2, this.options.blockPollMs);
    }
    const jobs = chunks.map((chunk, i) => ({
      name: `${tokens[i]}:${chunk.length}`,
      data: { m: chunk.map((message) => [message.key, message.value] as const) } satisfies JobData,
    }));
    try {
      if (jobs.length === 1) await queues[shard]!.add(jobs[0]!.name, jobs[0]!.data);
      else await queues[shard]!.addBulk(jobs);
    } catch (error) {
      await scripts.cancel(keys, jobs.map((job) => job.name)).catch(() => undefined);
      throw new ConnectionError(`redis at ${redact(this.options.url)}`, `adding a job to ${keys.queue} failed: ${(error as Error).message}`, { cause: error });
    }
    return { waitedMs: Math.round(performance.now() - started) };
  }

  /**
   * Reserves room for every chunk of one enqueue, all or none: one chunk is one script; a
   * larger enqueue (over MESSAGES_PER_JOB commands, rare) reserves its chunks one by one
   * and gives back what it got when one is refused.
   */
  async #reserveAll(
    scripts: TransportScripts,
    keys: ShardKeys,
    chunks: readonly (readonly TransportMessage[])[],
    tokens: readonly string[],
    options: EnqueueOptions,
  ): Promise<{ admitted: boolean; held: number }> {
    const { capacity } = this.options;
    const force = options.overflow === 'force';
    let reserved = 0;
    let total = 0;
    for (const [i, chunk] of chunks.entries()) {
      const rest = chunks.slice(i + 1).reduce((sum, c) => sum + c.length, 0);
      const result = await scripts.reserve(keys, chunk.length, capacity, options.reserve + rest, force, tokens[i]!, this.options.reservationTtlMs);
      if (!result.admitted) {
        if (reserved > 0) await scripts.cancel(keys, tokens.slice(0, reserved).map((token, j) => `${token}:${chunks[j]!.length}`));
        return { admitted: false, held: result.held - total };
      }
      reserved++;
      total += chunk.length;
    }
    return { admitted: true, held: 0 };
  }

  async depth(shard: number): Promise<number> {
    const keys = this.#keys[shard];
    if (keys === undefined) throw new RangeError(`Expected shard in 0..${this.#keys.length - 1}, got ${shard}`);
    const { client } = await this.#connected();
    return Number((await client.get(keys.held)) ?? 0);
  }

  async consume(handler: ShardHandler): Promise<Subscription> {
    const { client, scripts } = await this.#connected();
    const blocking = client.duplicate({ enableAutoPipelining: false, connectionName: `shardline:${this.options.domain}:wakeups` });
    blocking.on('error', () => undefined);
    const wakeups = new Wakeups(blocking);
    const ownership = new Ownership({ scripts, handler, options: this.options, logger: this.#logger }, wakeups);
    this.#ownerships.push(ownership);
    this.#wakeupClients.push(wakeups);
    let closing: Promise<void> | undefined;
    return {
      owned: () => ownership.owned(),
      close: () => (closing ??= ownership.close().then(() => wakeups.close())),
    };
  }

  /** This process's member id in each subscription's ownership (for logs and tests). */
  members(): string[] {
    return this.#ownerships.map((ownership) => ownership.member);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all(this.#ownerships.map((ownership) => ownership.close()));
      await Promise.all(this.#wakeupClients.map((wakeups) => wakeups.close()));
      const connected = await this.#connecting?.catch(() => undefined);
      if (connected === undefined) return;
      await Promise.all(connected.queues.map((queue) => queue.close().catch(() => undefined)));
      await connected.client.quit().catch(() => undefined);
    })();
    return this.#closing;
  }
}
