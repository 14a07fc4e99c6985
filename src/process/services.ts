import type { Redis } from 'ioredis';
import { ConfigError } from '../core/errors.ts';
import type { Config } from '../config/schema.ts';
import { memoryTransportOptionsSchema } from '../config/schema.ts';
import type { Logger } from '../common/logger.ts';
import { MemoryReplyBus, type ReplyBus } from '../common/replies.ts';
import { MemoryStateStore } from '../state/memory-store.ts';
import { MemoryHotKeyBoard, type HotKeyBoard } from '../state/hot-key-board.ts';
import type { StateStore } from '../state/state-store.ts';
import type { TransportContext, TransportModule } from '../transports/factory.ts';
import { MemoryTransport } from '../transports/memory/memory-transport.ts';
import type { Transport } from '../transports/transport.ts';
import { exportedFunction, importConfigured } from './module-loader.ts';

const TRANSPORT_MEMBERS = ['connect', 'enqueue', 'depth', 'consume', 'close'] as const;

/**
 * Builds the configured transport for the domain named `domain`. The memory transport is
 * built here; bullmq and kafka are imported only when named, so a memory process loads
 * neither client; a `module` transport is imported and built by its
 * `createTransport(options, context)`.
 */
export async function createTransport(config: Config, domain: string, logger: Logger): Promise<Transport> {
  const { kind, module, options } = config.transport;
  const context: TransportContext = { domain, logger };
  if (kind === 'memory') return new MemoryTransport(memoryTransportOptionsSchema.parse(options));
  if (kind === 'bullmq') {
    const bullmq = await import('../transports/bullmq/index.ts');
    return asTransportOptions(builtInIssue(kind), () => bullmq.createTransport({ url: config.redis.url, ...options }, context));
  }
  if (kind === 'kafka') {
    const kafka = await import('../transports/kafka/index.ts');
    return asTransportOptions(builtInIssue(kind), () => kafka.createTransport({ brokers: config.kafka.brokers, clientId: config.kafka.clientId, ...options }, context));
  }
  const from = module!;
  const loaded = await importConfigured(from, 'transport.module');
  const factory = exportedFunction<TransportModule['createTransport']>(loaded, 'createTransport', 'transport.module', from);
  const transport = await asTransportOptions(moduleIssue, () => factory(options, context));
  const missing = TRANSPORT_MEMBERS.filter((member) => typeof (transport as unknown as Record<string, unknown>)?.[member] !== 'function');
  if (missing.length > 0 || typeof transport?.name !== 'string') {
    throw new ConfigError([
      `transport.module: expected createTransport of ${JSON.stringify(from)} to return a Transport (name, ${TRANSPORT_MEMBERS.join(', ')}), got ${
        missing.length > 0 ? `an object without ${missing.join(', ')}` : 'an object without a string name'
      }`,
    ]);
  }
  return transport;
}

/**
 * Runs a transport's factory and reports the option errors it throws where the options sit
 * in the config: `transport.options.<field>`, for a built-in and a module transport alike.
 */
async function asTransportOptions<T>(rename: (issue: string) => string, create: () => T | Promise<T>): Promise<T> {
  try {
    return await create();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new ConfigError(error.issues.map(rename));
  }
}

/** A built-in transport names its options after itself (`bullmq.leaseTtlMs`, `bullmq: unknown field`). */
function builtInIssue(kind: string): (issue: string) => string {
  const own = new RegExp(`^${kind}(?=[.:])`);
  return (issue) => issue.replace(own, 'transport.options');
}

/**
 * A module transport reports `<field>: <message>` with fields relative to its options
 * (`shards: ...`), `<message>` about the options as a whole, and `domain: ...` about the
 * domain it was given, which keeps its name.
 */
function moduleIssue(issue: string): string {
  if (issue.startsWith('domain:')) return issue;
  return /^[\w$.[\]-]+: /.test(issue) ? `transport.options.${issue}` : `transport.options: ${issue}`;
}

/**
 * One Redis connection per process for the store, dead letters and replies, opened on
 * first use (so a memory-only process never loads ioredis) and closed once, last.
 */
export class RedisLink {
  readonly #url: string;
  #client: Promise<Redis> | undefined;

  constructor(url: string) {
    this.#url = url;
  }

  /** The connection; a `ConnectionError` naming the URL when Redis does not answer. */
  client(): Promise<Redis> {
    this.#client ??= import('../common/redis.ts').then(({ openRedis }) => openRedis(this.#url, 'shardline'));
    return this.#client;
  }

  /** Quits the connection if one was opened. Idempotent. */
  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (client !== undefined) await (await client.catch(() => undefined))?.quit().catch(() => undefined);
  }
}

/** Builds the configured state store of the domain named `domain` (memory, or Redis shared by every process), with its dead letters. */
export async function createStore(config: Config, domain: string, redis: RedisLink): Promise<StateStore> {
  if (config.store.kind === 'memory') return new MemoryStateStore({ dedupeWindow: config.owner.dedupeWindow });
  const { RedisStateStore } = await import('../state/redis-store.ts');
  return new RedisStateStore({ client: await redis.client(), domain, dedupeWindow: config.owner.dedupeWindow });
}

/**
 * Where owners publish hot keys and `inspect` reads them: Redis whenever the configuration
 * uses Redis already (the redis store, the bullmq transport or redis replies), so any
 * process sees every owner's; otherwise (memory, or Kafka with the memory store and
 * memory or kafka replies) a board of this process only, which `inspect` elsewhere cannot read.
 */
export async function createHotKeyBoard(config: Config, domain: string, redis: RedisLink): Promise<HotKeyBoard> {
  if (config.store.kind !== 'redis' && config.transport.kind !== 'bullmq' && config.replies.kind !== 'redis') return new MemoryHotKeyBoard();
  const { RedisHotKeyBoard } = await import('../state/redis-hot-key-board.ts');
  return new RedisHotKeyBoard({ client: await redis.client(), domain });
}

/** Builds the configured reply bus for `request()`. */
export async function createReplies(config: Config, redis: RedisLink): Promise<ReplyBus> {
  if (config.replies.kind === 'memory') return new MemoryReplyBus();
  if (config.replies.kind === 'redis') {
    const { RedisReplyBus } = await import('../transports/bullmq/redis-reply-bus.ts');
    return new RedisReplyBus({ client: await redis.client() });
  }
  const { KafkaReplyBus } = await import('../transports/kafka/kafka-reply-bus.ts');
  return new KafkaReplyBus({ brokers: [...config.kafka.brokers], clientId: config.kafka.clientId });
}
