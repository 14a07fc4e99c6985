import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import { ClosedError, ConnectionError, type Reply, type ReplyBus } from '../../src/index.ts';
import { errorText } from './error-text.ts';

/** Replies per NATS message: keeps one message far below the default 1 MiB `max_payload`. */
const REPLIES_PER_MESSAGE = 256;

/** Where a {@link NatsReplyBus} connects and which subjects it uses. */
export interface NatsReplyBusOptions {
  /** NATS server URL(s); defaults to `$NATS_URL`, else `nats://127.0.0.1:4222`. */
  readonly servers?: string | string[];
  /** First token of reply subjects (`<prefix>.replies.<id>`). @defaultValue `shardline` */
  readonly prefix?: string;
}

/**
 * Replies to `request()` over core NATS, for producers and owners in different processes:
 * a producer listens on its own subject, owners publish to it. Core NATS keeps nothing, so
 * replies to a producer that has gone are dropped without harm, as the contract wants;
 * a producer that misses a reply (disconnected at that moment) gets its `TimeoutError`.
 */
export class NatsReplyBus implements ReplyBus {
  readonly #servers: string | string[];
  readonly #prefix: string;
  #connection: Promise<NatsConnection> | undefined;
  #closed = false;

  constructor(options: NatsReplyBusOptions = {}) {
    this.#servers = options.servers ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
    this.#prefix = options.prefix ?? 'shardline';
  }

  async listen(onReplies: (replies: readonly Reply[]) => void): Promise<string> {
    const nc = await this.#connect();
    const address = `${this.#prefix}.replies.${randomBytes(8).toString('hex')}`;
    nc.subscribe(address, {
      callback: (error, message) => {
        if (error !== null) return;
        const replies: unknown = message.json();
        if (Array.isArray(replies)) onReplies(replies as Reply[]);
      },
    });
    return address;
  }

  async publish(address: string, replies: readonly Reply[]): Promise<void> {
    const nc = await this.#connect();
    for (let start = 0; start < replies.length; start += REPLIES_PER_MESSAGE) {
      nc.publish(address, JSON.stringify(replies.slice(start, start + REPLIES_PER_MESSAGE)));
    }
  }

  /** Flushes what was published and closes the connection. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const nc = await this.#connection?.catch(() => undefined);
    this.#connection = undefined;
    if (nc !== undefined && !nc.isClosed()) await nc.drain();
  }

  #connect(): Promise<NatsConnection> {
    if (this.#closed) return Promise.reject(new ClosedError('NATS reply bus'));
    this.#connection ??= connect({ servers: this.#servers, name: 'shardline-replies', maxReconnectAttempts: -1 }).catch((error: unknown) => {
      this.#connection = undefined;
      throw new ConnectionError(`NATS at ${[this.#servers].flat().join(', ')}`, `expected a reachable nats-server, got ${errorText(error)}`, { cause: error });
    });
    return this.#connection;
  }
}
