import { IdGenerator, OutgoingCommand, ProducedCommand, idOf, type Command } from '../core/command.ts';
import type { AnyDomain, PayloadOf, PublicCommandType, ReplyOf } from '../core/domain.ts';
import { ClosedError, CommandFailedError, InvalidCommandError, Rejected, TimeoutError } from '../core/errors.ts';
import { shardOf } from '../core/router.ts';
import type { OwnerAnswer } from './queries.ts';
import { queryType } from './queries.ts';
import type { Receipt } from './receipt.ts';
import type { Transport, TransportInfo } from '../transports/transport.ts';
import type { RuntimeObserver } from './observer.ts';
import { parseOptions, showValue } from '../common/options.ts';
import { checkKey, encodeChecked, parsePayload } from './command-checks.ts';
import { producerSettingsSchema, type ProducerSettings } from './options.ts';
import { MemoryReplyBus, type Reply, type ReplyBus } from '../common/replies.ts';
import { ShardSender } from './sender.ts';

export interface ProducerOptions<D extends AnyDomain> extends Partial<ProducerSettings> {
  readonly domain: D;
  readonly transport: Transport;
  /** Where replies to `request()` arrive; defaults to in-process replies (memory transport). */
  readonly replies?: ReplyBus;
  readonly observer?: RuntimeObserver;
}

export type { Receipt } from './receipt.ts';

/** One command for {@link Producer.sendMany}: any type but the domain's internal ones. */
export type CommandInput<D extends AnyDomain> = {
  [K in PublicCommandType<D>]: { readonly type: K; readonly key: string; readonly payload: PayloadOf<D, K> };
}[PublicCommandType<D>];

/** How one {@link Producer.request} waits, and what it tells its caller on the way. */
export interface RequestOptions {
  /** How long to wait for the reply, enqueue included. @defaultValue the producer's `requestTimeoutMs` */
  readonly timeoutMs?: number;
  /**
   * Called once, synchronously, when the command passed its checks and was handed to its
   * shard's lane: its id and shard, before any reply. A caller that gives up waiting (a
   * timeout, an HTTP client gone) can still name the command, which may yet be applied.
   */
  readonly onReceipt?: (receipt: Receipt) => void;
}

/** Per-command result of {@link Producer.sendMany}: refused commands do not stop the others. */
export type SendOutcome = ({ readonly ok: true } & Receipt) | { readonly ok: false; readonly error: Error };

interface PendingRequest {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * A checked command as it goes to its shard's lane: the command itself when it travels
 * unencoded, else wrapped with the encoding the checks made.
 */
type Outgoing = ProducedCommand | OutgoingCommand;

/** The command an {@link Outgoing} carries. */
function sourceOf(message: Outgoing): Command {
  return message instanceof OutgoingCommand ? message.source : message;
}

/** The receipt of `message`, enqueued (or being enqueued) to `shard`. */
function receiptOf(message: Outgoing, shard: number): Receipt {
  const { id, origin, seq } = sourceOf(message);
  return { id, shard, origin: origin!, seq: seq! };
}

/** The outcome of a `sendMany` command that was enqueued: one object, no receipt copied into it. */
function sentOf(message: Outgoing, shard: number): SendOutcome {
  const { id, origin, seq } = sourceOf(message);
  return { ok: true, id, shard, origin: origin!, seq: seq! };
}

/**
 * Sends typed commands of one domain to the owners of their shards. Each command is
 * checked (type, key, payload schema, size) before anything is sent; a bad one throws
 * `InvalidCommandError` and is never enqueued. The producer does not own the transport:
 * whoever created it closes it.
 */
export class Producer<D extends AnyDomain> {
  readonly domain: D;
  readonly settings: ProducerSettings;
  readonly #transport: Transport;
  readonly #replies: ReplyBus;
  readonly #observer: RuntimeObserver;
  readonly #ids = new IdGenerator();
  readonly #requests = new Map<string, PendingRequest>();
  #connecting: Promise<void> | undefined;
  #info: TransportInfo | undefined;
  #sender: ShardSender | undefined;
  #replyAddress: Promise<string> | undefined;
  #address: string | undefined;
  /** Calls waiting behind `#gate` for the producer to be ready, in call order. */
  #waiting = 0;
  #gate: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(options: ProducerOptions<D>) {
    const { domain, transport, replies, observer, ...settings } = options;
    this.settings = parseOptions(producerSettingsSchema, settings, 'producer');
    this.domain = domain;
    this.#transport = transport;
    this.#replies = replies ?? new MemoryReplyBus();
    this.#observer = observer ?? {};
  }

  /**
   * Connects the transport (idempotent); `send` connects on first use too. A failed connect
   * is not kept: the next call tries again, so a broker that was down at start-up costs the
   * calls made while it was down and no more.
   */
  connect(): Promise<void> {
    if (this.#connecting !== undefined) return this.#connecting;
    const connecting = this.#transport.connect().then((info) => {
      const reserve = this.settings.followUpReserve ?? Math.floor(info.capacity / 8);
      const maxBatch = Math.min(this.settings.maxBatch, info.capacity - reserve);
      if (maxBatch < 1) {
        throw new InvalidCommandError('followUpReserve', `reserve ${reserve} leaves no room in a capacity of ${info.capacity}`);
      }
      this.#info = info;
      this.#sender = new ShardSender(
        this.#transport,
        info.shardCount,
        {
          overflow: this.settings.overflow,
          timeoutMs: this.settings.enqueueTimeoutMs,
          reserve,
          maxBatch,
          lingerMs: this.settings.lingerMs,
          countEnqueued: true,
        },
        this.#observer,
      );
    });
    this.#connecting = connecting;
    connecting.catch(() => {
      if (this.#connecting === connecting) this.#connecting = undefined;
    });
    return connecting;
  }

  /** Shard count, once connected. */
  get shardCount(): number | undefined {
    return this.#info?.shardCount;
  }

  /** Enqueues one command; resolves once its shard's queue holds it. */
  send<K extends PublicCommandType<D>>(type: K, key: string, payload: PayloadOf<D, K>): Promise<Receipt> {
    if (this.#sender === undefined || this.#waiting > 0) return this.#inOrder(false, () => this.#sendNow(type, key, payload));
    try {
      return this.#sendNow(type, key, payload);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #sendNow(type: string, key: string, payload: unknown): Promise<Receipt> {
    const message = this.#prepare(type, key, payload, undefined);
    const shard = this.#shardOf(key);
    return this.#sender!.sendOne(shard, message, receiptOf(message, shard));
  }

  /**
   * Enqueues many commands with one enqueue per shard. Every valid command is sent; each
   * invalid one gets its `InvalidCommandError` in the result at its index.
   */
  sendMany(commands: readonly CommandInput<D>[]): Promise<SendOutcome[]> {
    if (!Array.isArray(commands)) {
      return Promise.reject(new InvalidCommandError('commands', `expected an array of { type, key, payload }, got ${showValue(commands)}`));
    }
    return this.#inOrder(false, () => {
      const outcomes = new Array<SendOutcome>(commands.length);
      // Per shard, the indexes of its commands and their messages; an array, not a Map: one lookup per command.
      const byShard = new Array<{ indexes: number[]; messages: Outgoing[] } | undefined>(this.#info!.shardCount);
      const sentAt = Date.now();
      commands.forEach((input, index) => {
        try {
          if (typeof input !== 'object' || input === null) {
            throw new InvalidCommandError('command', `expected an object { type, key, payload }, got ${showValue(input)}`);
          }
          const message = this.#prepare(input.type, input.key, input.payload, undefined, sentAt);
          const shard = this.#shardOf(message.key);
          const group = (byShard[shard] ??= { indexes: [], messages: [] });
          group.indexes.push(index);
          group.messages.push(message);
        } catch (error) {
          outcomes[index] = { ok: false, error: error as Error };
        }
      });
      const sends: Promise<void>[] = [];
      // forEach skips the holes: shards this call sends nothing to.
      byShard.forEach((group, shard) => {
        const { indexes, messages } = group!;
        sends.push(
          this.#sender!.send(shard, messages).then(
            () => {
              for (let i = 0; i < messages.length; i++) outcomes[indexes[i]!] = sentOf(messages[i]!, shard);
            },
            (error: unknown) => {
              for (const index of indexes) outcomes[index] = { ok: false, error: error as Error };
            },
          ),
        );
      });
      return Promise.all(sends).then(() => outcomes);
    });
  }

  /**
   * Sends one command and resolves with its handler's reply once the owner applied it.
   * Rejects with `Rejected` (business refusal), `CommandFailedError` (dead-lettered),
   * `TimeoutError` (no reply within `timeoutMs`, a wait for room in a full shard
   * included: the enqueue may still go through later) or the enqueue's own error
   * (`QueueFullError`, `TimeoutError` of the enqueue).
   */
  request<K extends PublicCommandType<D>>(
    type: K,
    key: string,
    payload: PayloadOf<D, K>,
    options: RequestOptions = {},
  ): Promise<ReplyOf<D, K>> {
    return this.#inOrder(true, () => {
      const message = this.#prepare(type, key, payload, this.#address);
      const shard = this.#shardOf(key);
      options.onReceipt?.(receiptOf(message, shard));
      const timeoutMs = options.timeoutMs ?? this.settings.requestTimeoutMs;
      return this.#awaitReply(message, shard, timeoutMs, () => `no reply to ${type} ${sourceOf(message).id} for key ${JSON.stringify(key)}`) as Promise<ReplyOf<D, K>>;
    });
  }

  /**
   * Asks the owner of `key`'s shard to answer `query` (one the domain resolves, or '' for
   * the entity's state) in order with the shard's commands: the read is enqueued like a
   * command, so it waits behind every command enqueued before it and takes a slot of the
   * shard's capacity; the owner answers it once those are committed and changes nothing
   * for it (no state, no origin mark, no commit of its own). Check `query`, `key` and
   * `params` first (`Reader` does); rejects as `request()` does.
   */
  askOwner(query: string, key: string, params: unknown, options: { timeoutMs?: number } = {}): Promise<OwnerAnswer> {
    return this.#inOrder(true, () => {
      if (this.#closed) throw new ClosedError('producer');
      const id = idOf(this.#ids.origin, this.#ids.nextSeq());
      const command: Command = { id, type: queryType(query), key, payload: params, sentAt: Date.now(), replyTo: this.#address };
      const message = new OutgoingCommand(command, encodeChecked(command, this.settings.maxCommandBytes));
      const timeoutMs = options.timeoutMs ?? this.settings.requestTimeoutMs;
      return this.#awaitReply(message, this.#shardOf(key), timeoutMs, () => `no answer from the owner to read ${id} of key ${JSON.stringify(key)}`) as Promise<OwnerAnswer>;
    });
  }

  /**
   * Enqueues `message` to `shard` and resolves with its reply. One promise, the caller's, settled by
   * whichever comes first: the reply (it may arrive before the enqueue is acknowledged),
   * the timeout (it may pass while the enqueue waits for room), or the enqueue's failure.
   * A second promise rejected before the caller awaited it would be an unhandled
   * rejection, fatal to the process.
   */
  #awaitReply(message: Outgoing, shard: number, timeoutMs: number, describe: () => string): Promise<unknown> {
    const id = sourceOf(message).id;
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#requests.delete(id);
        reject(new TimeoutError('request', timeoutMs, describe()));
      }, timeoutMs);
      const pending: PendingRequest = { resolve, reject, timer };
      this.#requests.set(id, pending);
      this.#sender!.send(shard, [message]).then(undefined, (error: unknown) => {
        if (this.#requests.get(id) !== pending) return;
        this.#requests.delete(id);
        clearTimeout(timer);
        reject(error as Error);
      });
    });
  }

  /**
   * Runs `enqueue` — which must prepare its commands and hand them to their lanes
   * synchronously — in call order. Connected (and listening for replies when `replies`),
   * with no earlier call still waiting, it runs at once; otherwise it waits behind the
   * earlier calls, so a `send` made before `connect()` finished is not overtaken.
   */
  #inOrder<T>(replies: boolean, enqueue: () => Promise<T>): Promise<T> {
    const ready = this.#sender !== undefined && (!replies || this.#address !== undefined);
    if (ready && this.#waiting === 0) {
      try {
        return enqueue();
      } catch (error) {
        return Promise.reject(error);
      }
    }
    this.#waiting++;
    const turn = this.#gate.then(() => (replies ? this.#listen() : this.connect()));
    this.#gate = turn.catch(() => undefined);
    return turn.then(
      () => {
        this.#waiting--;
        return enqueue();
      },
      (error: unknown) => {
        this.#waiting--;
        throw error;
      },
    );
  }

  /** Connects, then starts listening for replies (once); the address goes into `replyTo`. */
  async #listen(): Promise<void> {
    await this.connect();
    this.#address ??= await (this.#replyAddress ??= this.#replies.listen((replies) => this.#onReplies(replies)));
  }

  /** Waits until everything sent so far is enqueued (or failed). */
  async flush(): Promise<void> {
    await this.#sender?.flush();
  }

  /** Flushes, stops listening for replies and fails requests still waiting. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.flush();
    for (const [id, pending] of this.#requests) {
      clearTimeout(pending.timer);
      pending.reject(new ClosedError(`producer (request ${id} got no reply)`));
    }
    this.#requests.clear();
    await this.#replies.close();
  }

  #prepare(type: string, key: string, payload: unknown, replyTo: string | undefined, sentAt = Date.now()): Outgoing {
    if (this.#closed) throw new ClosedError('producer');
    checkKey(key);
    const schema = typeof type === 'string' && Object.hasOwn(this.domain.schemas, type) ? this.domain.schemas[type] : undefined;
    if (schema === undefined) {
      throw new InvalidCommandError('type', `unknown command type ${showValue(type)} for domain ${this.domain.name}; expected one of ${this.#sendable()}`);
    }
    if (this.domain.internal.has(type)) {
      throw new InvalidCommandError('type', `${type} is internal to domain ${this.domain.name}: only its handlers emit it (ctx.emit); a producer may send ${this.#sendable()}`);
    }
    const data = parsePayload(schema, payload);
    const command = new ProducedCommand(this.#ids.origin, this.#ids.nextSeq(), type, key, data, sentAt, replyTo);
    // Near the limit, or not plain JSON, the command is encoded now and travels encoded on
    // every transport (memory too), so its payload arrives the same way everywhere.
    const value = encodeChecked(command, this.settings.maxCommandBytes);
    return value === undefined ? command : new OutgoingCommand(command, value);
  }

  /** The shard of `key`, once connected. */
  #shardOf(key: string): number {
    return shardOf(key, this.#info!.shardCount);
  }

  /** The command types this producer may send, for messages. */
  #sendable(): string {
    return Object.keys(this.domain.schemas).filter((type) => !this.domain.internal.has(type)).join(', ');
  }

  #onReplies(replies: readonly Reply[]): void {
    for (const reply of replies) {
      const pending = this.#requests.get(reply.id);
      if (pending === undefined) continue;
      this.#requests.delete(reply.id);
      clearTimeout(pending.timer);
      if (reply.ok) pending.resolve(reply.value);
      else if ('rejected' in reply) pending.reject(new Rejected(reply.rejected.reason, reply.rejected.details));
      else pending.reject(new CommandFailedError(reply.id, reply.failed));
    }
  }
}
