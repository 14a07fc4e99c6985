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
  ShardOwner,
  Subscription,
  Transport,
  TransportInfo,
  TransportMessage,
} from '../transport.ts';
import { splitIntoJobs, type JobData } from './job-data.ts';
import { membersKey, shardKeys, type ShardKeys } from './keys.ts';
import { parseBullmqOptions, type BullmqOptions, type BullmqOptionsInput } from './options.ts';
import { OutageLog } from './outage-log.ts';
import { readOwners } from './owners.ts';
import { RoomWakeups } from './room-wakeups.ts';
import { Ownership } from './ownership.ts';
import { TransportScripts } from './scripts.ts';
import { Wakeups } from './wakeups.ts';

/** A job about to be added: its name, its data and its own id, which names its reservation too. */
interface PendingJob {
  readonly name: string;
  readonly data: JobData;
  readonly opts: { readonly jobId: string };
}

/** The reservation member of a job: `jobId:count`. */
function reservation(job: PendingJob): string {
  return `${job.opts.jobId}:${job.data.m.length}`;
}

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
 * heartbeat, agree on owners by capped rendezvous hashing over the live members, and hold a
 * Redis lease per shard whose every new grant takes the shard's next epoch; a
 * shard runner (`shard-runner.ts`) works the shard's queue only while its lease holds.
 */
export class BullmqTransport implements Transport {
  readonly name = 'bullmq';
  readonly options: BullmqOptions;
  readonly #logger: Logger;
  readonly #outage: OutageLog;
  readonly #keys: ShardKeys[];
  readonly #ownerships: Ownership[] = [];
  readonly #wakeupClients: Wakeups[] = [];
  /**
   * Job ids are this transport's random prefix and a counter: unique across processes
   * without a random draw (a system call) per job, which took a twentieth of a producer's time.
   */
  readonly #jobIdPrefix = `sl${randomBytes(9).toString('base64url')}-`;
  #jobs = 0;
  /** Made on the first enqueue that must wait for room. */
  #room: RoomWakeups | undefined;
  #connecting: Promise<Connected> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: BullmqOptionsInput & { logger?: Logger }) {
    const { logger, ...rest } = options;
    this.options = parseBullmqOptions(rest);
    this.#logger = logger ?? silentLogger;
    this.#outage = new OutageLog(this.#logger);
    this.#keys = Array.from({ length: this.options.shards }, (_, shard) => shardKeys(this.options.prefix, this.options.domain, shard));
  }

  async connect(): Promise<TransportInfo> {
    await this.#connected();
    return { shardCount: this.options.shards, capacity: this.options.capacity };
  }

  #connected(): Promise<Connected> {
    if (this.#closing !== undefined) return Promise.reject(new ClosedError('bullmq transport'));
    this.#connecting ??= openRedis(this.options.url, `shardline:${this.options.domain}`).then((client) => {
      // Each queue repeats the connection's errors; the connection reports them once.
      client.on('error', (error: Error) => this.#outage.failed(error, { during: 'connection' }));
      client.on('ready', () => this.#outage.answered());
      const queues = this.#keys.map((keys) => new Queue(keys.queue, { connection: client, prefix: this.options.prefix, skipVersionCheck: true }));
      for (const queue of queues) queue.on('error', (error) => this.#logger.debug({ queue: queue.name, error: error.message }, 'bullmq queue error'));
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
    const { client, scripts, queues } = await this.#connected();
    const data = splitIntoJobs(messages, this.options.maxJobBytes);
    // The job ids double as reservation tokens; BullMQ ignores a replayed add of an id it
    // holds, and refuses ids that are integers or contain ':', which these never are.
    const jobs = data.map((job) => ({ name: 'shardline', data: job, opts: { jobId: this.#jobIdPrefix + (this.#jobs++).toString(36) } }));
    const started = performance.now();
    let waitedMs = 0;
    let wait = 1;
    for (let attempt = 0; ; attempt++) {
      const seen = this.#room?.notices(shard) ?? 0;
      const { admitted, held } = await this.#reserveAll(scripts, keys, jobs, options);
      if (admitted) {
        if (attempt > 0) waitedMs = performance.now() - started;
        break;
      }
      if (options.overflow === 'reject') {
        throw new QueueFullError(shard, capacity, `${held} held, ${messages.length} more asked, ${options.reserve} kept in reserve`);
      }
      const left = options.timeoutMs - (performance.now() - started);
      if (left <= 0) throw new TimeoutError('enqueue', options.timeoutMs, `shard ${shard} stayed full (capacity ${capacity})`);
      if (this.#closing !== undefined) throw new ClosedError('bullmq transport');
      // Woken when the owner frees room; the doubling pause is only the fallback.
      this.#room ??= new RoomWakeups(client.duplicate({ connectionName: `shardline:${this.options.domain}:room` }), this.#keys.map((k) => k.room));
      await this.#room.wait(shard, seen, Math.min(wait, left));
      if (this.#closing !== undefined) throw new ClosedError('bullmq transport');
      wait = Math.min(wait * 2, this.options.blockPollMs);
    }
    try {
      if (jobs.length === 1) await queues[shard]!.add(jobs[0]!.name, jobs[0]!.data, jobs[0]!.opts);
      else await queues[shard]!.addBulk(jobs);
    } catch (error) {
      await scripts.cancel(keys, jobs.map((job) => reservation(job))).catch(() => undefined);
      throw new ConnectionError(`redis at ${redact(this.options.url)}`, `adding a job to ${keys.queue} failed: ${(error as Error).message}`, { cause: error });
    }
    return { waitedMs };
  }

  /**
   * Reserves room for every job of one enqueue, all or none: one job is one script; a
   * larger enqueue (over MESSAGES_PER_JOB commands or maxJobBytes, rare) reserves its jobs
   * one by one and gives back what it got when one is refused.
   */
  async #reserveAll(scripts: TransportScripts, keys: ShardKeys, jobs: readonly PendingJob[], options: EnqueueOptions): Promise<{ admitted: boolean; held: number }> {
    const { capacity } = this.options;
    const force = options.overflow === 'force';
    let reserved = 0;
    let total = 0;
    for (const [i, job] of jobs.entries()) {
      const rest = jobs.slice(i + 1).reduce((sum, j) => sum + j.data.m.length, 0);
      const result = await scripts.reserve(keys, job.data.m.length, capacity, options.reserve + rest, force, job.opts.jobId, this.options.reservationTtlMs);
      if (!result.admitted) {
        if (reserved > 0) await scripts.cancel(keys, jobs.slice(0, reserved).map((j) => reservation(j)));
        return { admitted: false, held: result.held - total };
      }
      reserved++;
      total += job.data.m.length;
    }
    return { admitted: true, held: 0 };
  }

  /** Exact: the commands reserved, waiting or taken and not acknowledged, after lapsed reservations are given back. */
  async depth(shard: number): Promise<number> {
    const keys = this.#keys[shard];
    if (keys === undefined) throw new RangeError(`Expected shard in 0..${this.#keys.length - 1}, got ${shard}`);
    const { scripts } = await this.#connected();
    return scripts.depth(keys, this.options.reservationTtlMs);
  }

  /** Per shard, the member holding its lease (with its host, pid, epoch and since when), read without taking anything. */
  async owners(): Promise<(ShardOwner | undefined)[]> {
    const { client } = await this.#connected();
    return readOwners(client, this.#keys, membersKey(this.options.prefix, this.options.domain));
  }

  async consume(handler: ShardHandler): Promise<Subscription> {
    const { client, scripts } = await this.#connected();
    const blocking = client.duplicate({ connectionName: `shardline:${this.options.domain}:wakeups` });
    blocking.on('error', () => undefined);
    const wakeups = new Wakeups(blocking);
    const ownership = new Ownership({ scripts, handler, options: this.options, logger: this.#logger, outage: this.#outage }, wakeups);
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
      this.#room?.close();
      const connected = await this.#connecting?.catch(() => undefined);
      if (connected === undefined) return;
      await Promise.all(connected.queues.map((queue) => queue.close().catch(() => undefined)));
      await connected.client.quit().catch(() => undefined);
    })();
    return this.#closing;
  }
}
