import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { silentLogger, type Logger } from '../../common/logger.ts';
import { showValue } from '../../common/options.ts';
import type { Reply, ReplyBus } from '../../common/replies.ts';

/** How a {@link RedisReplyBus} reaches Redis. */
export interface RedisReplyBusOptions {
  /** An open connection used to publish; a duplicate of it subscribes. Not closed by the bus unless `ownsClient`. */
  readonly client: Redis;
  /** Channel prefix. @defaultValue `shardline` */
  readonly prefix?: string;
  /** Close `client` with the bus. @defaultValue false */
  readonly ownsClient?: boolean;
  /** Where dropped messages are logged, at debug. @defaultValue silent */
  readonly logger?: Logger;
}

/**
 * Replies across processes over Redis pub/sub: each listening producer subscribes to a
 * channel of its own and puts its name in `replyTo`; owners publish a batch of replies
 * per address as one message. Pub/sub keeps nothing, so replies to a producer that has
 * gone reach no subscriber and vanish, and a producer's request times out on its own
 * when a reply is lost with its owner.
 *
 * Anyone can publish on a channel, so decoding is total: a message that is not a JSON
 * array, and each element of an array that is not a well-formed reply, is dropped,
 * counted in `dropped` and logged at debug; the replies beside and after it still arrive.
 */
export class RedisReplyBus implements ReplyBus {
  readonly #client: Redis;
  readonly #prefix: string;
  readonly #ownsClient: boolean;
  readonly #logger: Logger;
  #subscriber: Redis | undefined;
  #dropped = 0;
  #closed = false;

  constructor(options: RedisReplyBusOptions) {
    this.#client = options.client;
    this.#prefix = options.prefix ?? 'shardline';
    this.#ownsClient = options.ownsClient ?? false;
    this.#logger = options.logger ?? silentLogger;
  }

  /** Messages, or elements of messages, received on this bus's channels that were not replies. */
  get dropped(): number {
    return this.#dropped;
  }

  async listen(onReplies: (replies: readonly Reply[]) => void): Promise<string> {
    const address = `${this.#prefix}:replies:${process.pid}:${randomBytes(8).toString('hex')}`;
    const subscriber = (this.#subscriber ??= this.#client.duplicate());
    subscriber.on('error', () => undefined);
    subscriber.on('message', (channel: string, text: string) => {
      if (channel !== address) return;
      const replies = this.#decode(channel, text);
      if (replies.length > 0) onReplies(replies);
    });
    await subscriber.subscribe(address);
    return address;
  }

  async publish(address: string, replies: readonly Reply[]): Promise<void> {
    await this.#client.publish(address, JSON.stringify(replies));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#subscriber?.disconnect();
    if (this.#ownsClient) await this.#client.quit().catch(() => undefined);
  }

  /** The well-formed replies of a message; everything else is dropped and counted. */
  #decode(channel: string, text: string): Reply[] {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return this.#drop(channel, 'expected a JSON array of replies, got text that is not JSON', text);
    }
    if (!Array.isArray(parsed)) return this.#drop(channel, `expected a JSON array of replies, got ${parsed === null ? 'null' : typeof parsed}`, text);
    const replies: Reply[] = [];
    for (const [index, element] of parsed.entries()) {
      if (isReply(element)) replies.push(element);
      else this.#drop(channel, `expected element ${index} to be a reply { id, ok, value | rejected | failed }`, showValue(element));
    }
    return replies;
  }

  #drop(channel: string, reason: string, text: string): Reply[] {
    this.#dropped++;
    this.#logger.debug({ channel, reason, text: text.slice(0, 200) }, 'reply dropped');
    return [];
  }
}

/** Whether `value` has the shape of a {@link Reply}. */
function isReply(value: unknown): value is Reply {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const reply = value as Record<string, unknown>;
  if (typeof reply.id !== 'string') return false;
  if (reply.ok === true) return true;
  if (reply.ok !== false) return false;
  if (typeof reply.failed === 'string') return true;
  const rejected = reply.rejected;
  if (typeof rejected !== 'object' || rejected === null || Array.isArray(rejected)) return false;
  const { reason, details } = rejected as Record<string, unknown>;
  return typeof reason === 'string' && (details === undefined || (typeof details === 'object' && details !== null && !Array.isArray(details)));
}
