import { z } from 'zod';
import { parseOptions } from '../../common/options.ts';
import type { KafkaClient } from './kafka-client.ts';

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();
/** Kafka's legal topic and group characters. */
const kafkaName = /^[a-zA-Z0-9._-]*$/;

/** `"a:9092,b:9092"` or `["a:9092", "b:9092"]`, as config files and `KAFKA_BROKERS` give them. */
const brokerList = z
  .union([z.string(), z.array(z.string())])
  .transform((value) => (typeof value === 'string' ? value.split(',') : value).map((b) => b.trim()).filter((b) => b !== ''))
  .refine((list) => list.length > 0, 'expected at least one broker as host:port')
  .refine((list) => list.every((b) => /^[^\s:]+:\d+$/.test(b)), 'expected every broker as host:port');

/** The Kafka transport's fields, before the checks that involve several of them. */
export const kafkaTransportFields = z
  .object({
    /** Bootstrap brokers, `host:port`; `createTransport` falls back to `KAFKA_BROKERS`. */
    brokers: brokerList.optional(),
    /** A KafkaJS-compatible client to use instead of building a kafkajs one from `brokers`. */
    client: z.custom<KafkaClient>((value) => typeof value === 'object' && value !== null && 'consumer' in value && 'producer' in value && 'admin' in value, 'expected a KafkaJS-compatible client (admin, producer, consumer)').optional(),
    /** `client.id` sent to the brokers. */
    clientId: z.string().min(1).default('shardline'),
    /** Topics are named `<topicPrefix><domain>`. */
    topicPrefix: z.string().regex(kafkaName, 'expected letters, digits, ".", "_" or "-"').default('shardline.'),
    /** The domain's topic, overriding `<topicPrefix><domain>`. */
    topic: z.string().min(1).max(249).regex(kafkaName, 'expected letters, digits, ".", "_" or "-"').optional(),
    /** The owners' consumer group; defaults to `<topic>.owners`. Producers read its committed offsets to bound lag. */
    groupId: z.string().min(1).optional(),
    /** The expected partition count; `connect()` fails when the topic has another. */
    shards: positiveInt.optional(),
    /** Most unconsumed commands (lag) per partition that `block`/`reject` enqueues admit, approximately (see `LagBound`). */
    capacity: positiveInt.default(10_000),
    /**
     * Fraction of `capacity` up to which an enqueue may trust a lag sample younger than
     * `lagSampleIntervalMs`; above it, each enqueue waits for a sample taken after this
     * process's previous enqueue to the shard. Lower is tighter and slower.
     */
    trustedFill: z.number().min(0).max(1).default(0.5),
    /** Longest age of a lag sample used to admit, and the poll period while enqueues wait for room. */
    lagSampleIntervalMs: positiveInt.default(100),
    /**
     * Most bytes of keys and values per produce call; a larger enqueue is written in several,
     * one after another. Keep it under the broker's `message.max.bytes` (1 MiB by default).
     */
    maxProduceBytes: positiveInt.default(900_000),
    /**
     * Largest record value in bytes. An enqueue refuses a larger message, and an owner hands
     * a larger record it finds in the topic (another program wrote it) to dead-letter unread.
     */
    maxRecordBytes: positiveInt.default(1_048_576),
    /** Most messages handed to one `deliver` call (a fetched batch is split). */
    maxBatch: positiveInt.default(512),
    /** Partitions whose batches are handled at the same time in this process. */
    partitionsConsumedConcurrently: positiveInt.default(8),
    /** Group session timeout: how long a silent (dead, paused) owner keeps its partitions. */
    sessionTimeoutMs: positiveInt.default(10_000),
    /** How long the group waits for members to rejoin during a rebalance. */
    rebalanceTimeoutMs: positiveInt.default(30_000),
    /** Heartbeat period, also while a long batch is being applied. Must be under a third of `sessionTimeoutMs`. */
    heartbeatIntervalMs: positiveInt.default(1_000),
    /** Longest a fetch waits at the broker for new messages. */
    maxWaitTimeMs: positiveInt.default(100),
    /**
     * Pause before a rejected delivery is fetched again; also the least pause before a refused
     * or fenced partition is claimed again, which further waits for two heartbeats proving the
     * group still assigns it here.
     */
    retryDelayMs: nonNegativeInt.default(100),
    /** How long closing waits for the delivery in hand before it leaves the group anyway. */
    revokeTimeoutMs: positiveInt.default(5_000),
    /** TCP connect timeout per broker. */
    connectionTimeoutMs: positiveInt.default(3_000),
    /** Retries of a failed request (connect included) before it is reported. */
    retries: nonNegativeInt.default(5),
    /** Produce acknowledgement: -1 waits for all in-sync replicas, 1 for the leader only. */
    acks: z.union([z.literal(-1), z.literal(1)]).default(-1),
    /** Let metadata requests create a missing topic with the broker's default partition count. */
    allowAutoTopicCreation: z.boolean().default(true),
  })
  .strict();

/** The Kafka transport's options; every field but `brokers` (or `client`) has a default. */
export const kafkaTransportSchema = kafkaTransportFields.superRefine((options, ctx) => {
  if (options.brokers === undefined && options.client === undefined) {
    ctx.addIssue({ code: 'custom', path: ['brokers'], message: 'expected brokers (host:port, or KAFKA_BROKERS) or a client' });
  }
  if (options.heartbeatIntervalMs * 3 > options.sessionTimeoutMs) {
    ctx.addIssue({
      code: 'custom',
      path: ['heartbeatIntervalMs'],
      message: `expected at most a third of sessionTimeoutMs (${options.sessionTimeoutMs}), got ${options.heartbeatIntervalMs}`,
    });
  }
});

/** Options as a user writes them. */
export type KafkaTransportOptions = z.input<typeof kafkaTransportSchema>;
/** Options with every default filled in. */
export type KafkaTransportSettings = z.output<typeof kafkaTransportSchema>;

/** Validates options, reporting every wrong field at once as a `ConfigError`. */
export function parseKafkaOptions(options: unknown): KafkaTransportSettings {
  return parseOptions(kafkaTransportSchema, options, 'kafka');
}
