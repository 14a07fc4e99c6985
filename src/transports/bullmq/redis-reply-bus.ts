import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Reply, ReplyBus } from '../../common/replies.ts';

/** How a {@link RedisReplyBus} reaches Redis. */
export interface RedisReplyBusOptions {
  /** An open connection used to publish; a duplicate of it subscribes. Not closed by the bus unless `ownsClient`. */
  readonly client: Redis;
  /** Channel prefix. @defaultValue `shardline` */
  readonly prefix?: string;
  /** Close `client` with the bus. @defaultValue false */
  readonly ownsClient?: boolean;
}

/**
 * Replies across processes over Redis pub/sub: each listening producer subscribes to a
 * channel of its own and puts its name in `replyTo`; owners publish a batch of replies
 * per address as one message. Pub/sub keeps nothing, so replies to a producer that has
 * gone reach no subscriber and vanish, and a producer's request times out on its own
 * when a reply is lost with its owner.
 */
export class RedisReplyBus implements ReplyBus {
  readonly #client: Redis;
  readonly #prefix: string;
  readonly #ownsClient: boolean;
  #subscriber: Redis | undefined;
  #closed = false;

  constructor(options: RedisReplyBusOptions) {
    this.#client = options.client;
    this.#prefix = options.prefix ?? 'shardline';
    this.#ownsClient = options.ownsClient ?? false;
  }

  async listen(onReplies: (replies: readonly Reply[]) => void): Promise<string> {
    const address = `${this.#prefix}:replies:${process.pid}:${randomBytes(8).toString('hex')}`;
    const subscriber = (this.#subscriber ??= this.#client.duplicate({ enableAutoPipelining: false }));
    subscriber.on('error', () => undefined);
    subscriber.on('message', (channel: string, text: string) => {
      if (channel === address) onReplies(JSON.parse(text) as Reply[]);
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
}
