import { z } from 'zod';
import { MemoryReplyBus, type ReplyBus } from '../common/replies.ts';
import { parseOptions } from '../common/options.ts';
import type { AnyDomain, ParamsOf, QueryName, QueryResultOf, StateOf } from '../core/domain.ts';
import { ClosedError, CommandFailedError, InvalidReadError, QueryFailedError, TimeoutError } from '../core/errors.ts';
import { shardOf } from '../core/router.ts';
import type { EntityRead, StateStore } from '../state/state-store.ts';
import type { Transport } from '../transports/transport.ts';
import { Producer } from './producer.ts';
import { checkRead, evaluate, type OwnerAnswer } from './queries.ts';
import { parseReceipt, type ReceiptPoint } from './receipt.ts';

/**
 * How current a read must be:
 * - `committed`: the shard's last commit, read from the state store by any process; never
 *   waits for the owner or its queue (one store read; with `after`, one per poll).
 * - `owner`: asked of the shard's current owner through its queue, answered in order with
 *   the shard's commands after those before it were committed: linearizable, and as slow
 *   as a command (it waits behind the shard's queue and takes a slot of its capacity).
 */
export type Consistency = 'committed' | 'owner';

/** How one read is made. */
export interface ReadOptions {
  /**
   * Read-your-writes: do not answer before the key's shard applied the command behind this
   * receipt (what `send` returned, or its token). A committed read polls the store until
   * the shard's mark for the receipt's producer reaches it; an owner read is behind it in
   * the queue anyway. The receipt must be of the key's shard.
   */
  readonly after?: ReceiptPoint | string;
  /** @defaultValue `committed` */
  readonly consistency?: Consistency;
  /** How long a read may wait (for `after`, or for the owner's answer). @defaultValue the reader's `timeoutMs` */
  readonly timeoutMs?: number;
}

/** A read's answer, and which point of the shard's history it reflects. */
export interface ReadResult<T> {
  readonly value: T;
  readonly key: string;
  readonly shard: number;
  /**
   * The value reflects every command of the shard at or below this position and none above
   * it (-1: none applied yet). Reads of one shard never see this go back.
   */
  readonly position: number;
  /** The shard's fencing epoch when read: the owner that answered, or the store's. */
  readonly epoch: number;
  /** Whether a commit ever wrote the entity; when not, the value comes from `initial(key)`. */
  readonly found: boolean;
  readonly consistency: Consistency;
}

/** Reader tuning; every field has a default. */
export const readerSettingsSchema = z.strictObject({
  /** Longest wait of one read, for `after` or for the owner's answer, in milliseconds. */
  timeoutMs: z.number().int().positive().default(10_000),
  /** Longest pause between two store reads while waiting for `after` (the first is 1 ms, doubling). */
  maxPollMs: z.number().int().positive().default(20),
});

/** Validated reader settings. */
export type ReaderSettings = z.output<typeof readerSettingsSchema>;

export interface ReaderOptions<D extends AnyDomain> extends Partial<ReaderSettings> {
  readonly domain: D;
  /** The domain's transport: it gives the shard count and carries owner reads. The reader does not close it. */
  readonly transport: Transport;
  /**
   * Where committed reads come from: the store the owners commit to (the memory store of
   * the owner's own process, or a shared one). Without it only owner reads can be made.
   */
  readonly store?: StateStore;
  /**
   * The producer that carries owner reads, one of yours (the reader does not close it).
   * Without it the reader makes one on first use, with `replies`, and closes both.
   */
  readonly producer?: Producer<D>;
  /** Where owners' answers arrive for the producer the reader makes: a bus of its own. @defaultValue in-process replies */
  readonly replies?: ReplyBus;
}

const CONSISTENCIES: readonly Consistency[] = ['committed', 'owner'];

/**
 * Reads one domain's committed state without taking a lock and without blocking its
 * owners: `query` runs one of the domain's queries on an entity's state, `get` hands the
 * state itself. Every answer says where in the shard's history it was read. Checks every
 * read first (query, params, key, receipt, options): a bad one throws `InvalidReadError`
 * and reads nothing.
 */
export class Reader<D extends AnyDomain> {
  readonly domain: D;
  readonly settings: ReaderSettings;
  readonly #transport: Transport;
  readonly #store: StateStore | undefined;
  readonly #replies: ReplyBus;
  /** Whether the reader made `#producer`, and so closes it. */
  readonly #ownsProducer: boolean;
  /** Pauses of reads waiting for `after`, ended by `close()`. */
  readonly #pauses = new Set<{ timer: NodeJS.Timeout; reject: (error: Error) => void }>();
  #connecting: Promise<number> | undefined;
  /** The shard count, once connected: reads then route without waiting on a promise. */
  #shardCount: number | undefined;
  #producer: Producer<D> | undefined;
  #closed = false;

  constructor(options: ReaderOptions<D>) {
    const { domain, transport, store, replies, producer, ...settings } = options;
    this.settings = parseOptions(readerSettingsSchema, settings, 'reader');
    this.domain = domain;
    this.#transport = transport;
    this.#store = store;
    this.#replies = replies ?? new MemoryReplyBus();
    this.#producer = producer;
    this.#ownsProducer = producer === undefined;
  }

  /** Connects the transport to learn the shard count (idempotent); the first read does it too. */
  async connect(): Promise<void> {
    await this.#connected();
  }

  /** The state of `key` (its initial state when never written). */
  get(key: string, options: ReadOptions = {}): Promise<ReadResult<StateOf<D>>> {
    return this.#read('', key, undefined, options) as Promise<ReadResult<StateOf<D>>>;
  }

  /** What query `name` answers for `key` with `params`. */
  query<K extends QueryName<D>>(name: K, key: string, params: ParamsOf<D, K>, options: ReadOptions = {}): Promise<ReadResult<QueryResultOf<D, K>>> {
    return this.#read(name, key, params, options) as Promise<ReadResult<QueryResultOf<D, K>>>;
  }

  /** Ends reads still waiting (`ClosedError`) and closes the producer and reply bus it made. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const pause of this.#pauses) {
      clearTimeout(pause.timer);
      pause.reject(new ClosedError('reader'));
    }
    this.#pauses.clear();
    if (!this.#ownsProducer) return;
    if (this.#producer !== undefined) await this.#producer.close();
    else await this.#replies.close();
  }

  async #read(query: string, key: string, params: unknown, options: ReadOptions): Promise<ReadResult<unknown>> {
    if (this.#closed) throw new ClosedError('reader');
    const { consistency, timeoutMs } = this.#checkOptions(options);
    const checked = checkRead(this.domain, query, key, params);
    const point = options.after === undefined ? undefined : parseReceipt(options.after);
    if (consistency === 'committed' && this.#store === undefined) {
      throw new InvalidReadError('consistency', `expected owner: this reader of domain ${this.domain.name} has no state store to read committed state from, got committed`);
    }
    const shard = shardOf(key, this.#shardCount ?? (await this.#connected()));
    if (point !== undefined && point.shard !== shard) {
      throw new InvalidReadError('after', `expected a receipt of shard ${shard}, where key ${JSON.stringify(key)} lives, got one of shard ${point.shard}: a receipt orders reads of its own shard only`);
    }
    if (consistency === 'owner') return this.#askOwner(query, key, shard, checked, timeoutMs);
    const read = point === undefined ? await this.#store!.read(shard, key) : await this.#readAfter(shard, key, point, timeoutMs);
    const value = evaluate(this.domain, query, key, read.found, read.state, checked);
    return { value, key, shard, position: read.position, epoch: read.epoch, found: read.found, consistency };
  }

  #checkOptions(options: ReadOptions): { consistency: Consistency; timeoutMs: number } {
    if (typeof options !== 'object' || options === null) throw new InvalidReadError('options', `expected an object, got ${options === null ? 'null' : typeof options}`);
    const consistency = options.consistency ?? 'committed';
    if (!CONSISTENCIES.includes(consistency)) {
      throw new InvalidReadError('consistency', `expected committed or owner, got ${JSON.stringify(consistency) ?? typeof consistency}`);
    }
    const timeoutMs = options.timeoutMs ?? this.settings.timeoutMs;
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) throw new InvalidReadError('timeoutMs', `expected a positive integer of milliseconds, got ${JSON.stringify(timeoutMs) ?? typeof timeoutMs}`);
    return { consistency, timeoutMs };
  }

  #connected(): Promise<number> {
    this.#connecting ??= this.#transport.connect().then((info) => (this.#shardCount = info.shardCount));
    return this.#connecting;
  }

  /**
   * Reads until the shard's mark for the receipt's producer reaches its seq: the read that
   * sees it is the answer, since the mark and the state come from the same commit.
   */
  async #readAfter(shard: number, key: string, point: ReceiptPoint, timeoutMs: number): Promise<EntityRead> {
    const deadline = performance.now() + timeoutMs;
    let pauseMs = 1;
    for (;;) {
      const read = await this.#store!.read(shard, key, point.origin);
      if (read.mark !== undefined && read.mark >= point.seq) return read;
      const left = deadline - performance.now();
      if (left <= 0) {
        const mark = read.mark === undefined ? 'none' : String(read.mark);
        throw new TimeoutError('read after a receipt', timeoutMs, `shard ${shard} has not applied seq ${point.seq} of producer ${point.origin} (its mark is ${mark}, position ${read.position})`);
      }
      await this.#pause(Math.min(pauseMs, left));
      pauseMs = Math.min(pauseMs * 2, this.settings.maxPollMs);
    }
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const pause = {
        timer: setTimeout(() => {
          this.#pauses.delete(pause);
          resolve();
        }, ms),
        reject,
      };
      this.#pauses.add(pause);
    });
  }

  async #askOwner(query: string, key: string, shard: number, params: unknown, timeoutMs: number): Promise<ReadResult<unknown>> {
    this.#producer ??= new Producer({ domain: this.domain, transport: this.#transport, replies: this.#replies });
    let answer: unknown;
    try {
      answer = await this.#producer.askOwner(query, key, params, { timeoutMs });
    } catch (error) {
      if (error instanceof CommandFailedError) throw new QueryFailedError(query, key, `the owner answered: ${error.reason}`, { cause: error });
      throw error;
    }
    const { value, found, position, epoch } = checkAnswer(answer, query, key);
    return { value, key, shard, position, epoch, found, consistency: 'owner' };
  }
}

/** An owner's answer as it arrived (over a reply bus: anything), checked. */
function checkAnswer(answer: unknown, query: string, key: string): OwnerAnswer {
  const { found, position, epoch } = (typeof answer === 'object' && answer !== null ? answer : {}) as Record<string, unknown>;
  if (typeof found !== 'boolean' || !Number.isSafeInteger(position) || !Number.isSafeInteger(epoch)) {
    throw new QueryFailedError(query, key, 'the owner answered something that is not a read answer ({ value, found, position, epoch }): is it an older shardline?');
  }
  return answer as OwnerAnswer;
}
