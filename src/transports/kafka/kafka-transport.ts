import { Partitioners, type Admin, type Producer } from 'kafkajs';
import { ClosedError, ConfigError, ConnectionError, InvalidCommandError } from '../../core/errors.ts';
import { silentLogger, type Logger } from '../../common/logger.ts';
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
import { GroupSubscription } from './group-subscription.ts';
import { createKafkaClient, kafkaConnectionError, type KafkaClient } from './kafka-client.ts';
import { KafkaLog } from './kafka-log.ts';
import { parseKafkaOptions, type KafkaTransportOptions, type KafkaTransportSettings } from './kafka-options.ts';
import { LagBound } from './lag-bound.ts';
import { ProduceTurns } from './produce-turns.ts';
import { readHolder } from './partition-holder.ts';

/** What a Kafka transport is told besides its options: the domain names its topic. */
export interface KafkaTransportContext {
  readonly domain: string;
  readonly logger?: Logger;
}

interface Connected {
  readonly info: TransportInfo;
  readonly admin: Admin;
  readonly producer: Producer;
  readonly produces: ProduceTurns;
  readonly bound: LagBound;
}

/**
 * The Kafka transport: one topic per domain, partition n is shard n. Producers write
 * each command to partition `shard` (the same murmur2 `shardOf` as Kafka's default
 * partitioner) with the entity key as the record key; owners are the members of one
 * consumer group, which assigns them partitions (see `GroupSubscription`); positions are
 * offsets. The bound is the partition's consumer lag, sampled (see `LagBound` for how far
 * it can overshoot), and `depth` is that sampled lag.
 *
 * Grants carry epoch 0: kafkajs does not expose the group generation, so the state store's
 * claim issues the fencing epochs. An enqueue is written in one produce call (shared with
 * the enqueues of other shards made in the same turn, see `ProduceTurns`), all or none,
 * unless it exceeds `maxProduceBytes`: its parts are then written in order and a failure
 * may leave the first ones written. A produce that times out may also have been written,
 * and so may an enqueue that failed after the shared call it was in failed for another
 * shard; either way the owners' origin marks recognise a resent command.
 */
export class KafkaTransport implements Transport {
  readonly name = 'kafka';
  readonly settings: KafkaTransportSettings;
  /** The domain's topic. */
  readonly topic: string;
  /** The owners' consumer group. */
  readonly groupId: string;
  readonly #client: KafkaClient;
  readonly #log: KafkaLog;
  #connecting: Promise<Connected> | undefined;
  #subscription: GroupSubscription | undefined;
  /** The last committed offset read per partition. */
  readonly #committed = new Map<number, number>();
  #closing: Promise<void> | undefined;

  constructor(options: KafkaTransportOptions, context: KafkaTransportContext) {
    this.settings = parseKafkaOptions(options);
    this.topic = this.settings.topic ?? `${this.settings.topicPrefix}${context.domain}`;
    this.groupId = this.settings.groupId ?? `${this.topic}.owners`;
    this.#log = new KafkaLog(context.logger ?? silentLogger);
    this.#client = this.settings.client ?? createKafkaClient({ ...this.settings, brokers: this.settings.brokers! }, this.#log);
  }

  async connect(): Promise<TransportInfo> {
    if (this.#closing !== undefined) throw new ClosedError('kafka transport');
    this.#connecting ??= this.#connect();
    try {
      return (await this.#connecting).info;
    } catch (error) {
      this.#connecting = undefined;
      throw error;
    }
  }

  async enqueue(shard: number, messages: readonly TransportMessage[], options: EnqueueOptions): Promise<EnqueueResult> {
    const { info, produces, bound } = await this.#connected();
    if (!Number.isInteger(shard) || shard < 0 || shard >= info.shardCount) {
      throw new RangeError(`Expected shard in 0..${info.shardCount - 1}, got ${shard}`);
    }
    if (messages.length === 0) return { waitedMs: 0 };
    const maxBytes = this.settings.maxRecordBytes;
    const records = messages.map((message, index) => {
      const { key, value } = message;
      if (typeof key !== 'string' || typeof value !== 'string') {
        throw new InvalidCommandError('value', `expected message ${index} to have a string key and value, got ${typeof key} and ${typeof value}`);
      }
      // UTF-16 length × 3 bounds the UTF-8 size: measure exactly only a value that may be over.
      if (value.length * 3 > maxBytes && Buffer.byteLength(value) > maxBytes) {
        throw new InvalidCommandError('size', `expected message ${index} to be at most maxRecordBytes (${maxBytes}) bytes, got ${Buffer.byteLength(value)}`);
      }
      return { key, value, partition: shard };
    });
    const waitedMs = await bound.admit(shard, messages.length, options);
    try {
      for (const chunk of byteChunks(records, this.settings.maxProduceBytes)) await produces.produce(chunk.records, chunk.bytes);
    } catch (error) {
      throw kafkaConnectionError(this.settings.brokers, `producing ${messages.length} message(s) to ${this.topic} partition ${shard}`, error);
    } finally {
      bound.settled(shard, messages.length);
    }
    return { waitedMs };
  }

  async depth(shard: number): Promise<number> {
    const { bound } = await this.#connected();
    return bound.depth(shard);
  }

  /**
   * Per partition, the holder named by the metadata of the group's committed offset: each
   * grant writes its member id, host, pid and claim time there when it claims a partition
   * whose store position is past the start, and with every offset it commits. Read-only.
   * It is the last holder that claimed, as the group's offsets record it: after a holder
   * died it is named until the group hands the partition on (a session timeout), and a
   * partition whose last holder left with no successor still names it. (The group itself,
   * DescribeGroups, would tell live membership, but librdkafka's mock cluster lacks it.)
   */
  async owners(): Promise<readonly (ShardOwner | undefined)[]> {
    const { info, admin } = await this.#connected();
    try {
      const [topic] = await admin.fetchOffsets({ groupId: this.groupId, topics: [this.topic] });
      const owners = new Array<ShardOwner | undefined>(info.shardCount).fill(undefined);
      for (const { partition, metadata } of topic?.partitions ?? []) {
        if (partition >= 0 && partition < info.shardCount) owners[partition] = readHolder(metadata);
      }
      return owners;
    } catch (error) {
      throw kafkaConnectionError(this.settings.brokers, `reading the holders of ${this.topic} from group ${this.groupId}`, error);
    }
  }

  /** Where the owners' group stands on a partition: its committed offset, else the log's first. */
  async #groupOffset(shard: number): Promise<number> {
    const { admin } = await this.#connected();
    const [topic] = await admin.fetchOffsets({ groupId: this.groupId, topics: [this.topic] });
    const committed = Number(topic?.partitions.find((p) => p.partition === shard)?.offset ?? -1);
    if (committed >= 0) return committed;
    const ends = await admin.fetchTopicOffsets(this.topic);
    return Number(ends.find((end) => end.partition === shard)?.low ?? 0);
  }

  async consume(handler: ShardHandler): Promise<Subscription> {
    await this.#connected();
    if (this.#subscription !== undefined) throw new ConfigError([`kafka transport: consume() was already called on this instance (topic ${this.topic})`]);
    const s = this.settings;
    const consumer = this.#client.consumer({
      groupId: this.groupId,
      sessionTimeout: s.sessionTimeoutMs,
      rebalanceTimeout: s.rebalanceTimeoutMs,
      heartbeatInterval: s.heartbeatIntervalMs,
      maxWaitTimeInMs: s.maxWaitTimeMs,
      allowAutoTopicCreation: s.allowAutoTopicCreation,
    });
    const subscription = new GroupSubscription(consumer, this.topic, handler, s, this.#log, (shard) => this.#groupOffset(shard));
    this.#subscription = subscription;
    try {
      await subscription.start();
    } catch (error) {
      await subscription.close();
      throw kafkaConnectionError(s.brokers, `joining consumer group ${this.groupId} on ${this.topic}`, error);
    }
    return subscription;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#subscription?.close();
      const connected = await this.#connecting?.catch(() => undefined);
      if (connected !== undefined) {
        connected.bound.close();
        await Promise.allSettled([connected.producer.disconnect(), connected.admin.disconnect()]);
      }
      this.#log.close();
    })();
    return this.#closing;
  }

  async #connected(): Promise<Connected> {
    await this.connect();
    return this.#connecting!;
  }

  async #connect(): Promise<Connected> {
    const s = this.settings;
    const admin = this.#client.admin();
    const producer = this.#client.producer({ allowAutoTopicCreation: s.allowAutoTopicCreation, createPartitioner: Partitioners.DefaultPartitioner });
    try {
      await admin.connect();
      const partitions = await this.#partitionCount(admin);
      if (s.shards !== undefined && partitions !== s.shards) {
        throw new ConfigError([`kafka.shards: expected topic ${this.topic} to have ${s.shards} partitions (the configured shard count), got ${partitions}`]);
      }
      await producer.connect();
      const bound = new LagBound({
        shards: partitions,
        capacity: s.capacity,
        trustedFill: s.trustedFill,
        sampleIntervalMs: s.lagSampleIntervalMs,
        sampleLag: () => this.#sampleLag(admin, partitions),
      });
      const produces = new ProduceTurns(async (messages) => void (await producer.send({ topic: this.topic, acks: s.acks, messages })), s.maxProduceBytes);
      return { info: { shardCount: partitions, capacity: s.capacity, approximateDepth: true }, admin, producer, produces, bound };
    } catch (error) {
      await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
      if (error instanceof ConfigError || error instanceof ConnectionError) throw error;
      throw kafkaConnectionError(s.brokers, `connecting and reading the metadata of topic ${this.topic}`, error);
    }
  }

  async #partitionCount(admin: Admin): Promise<number> {
    if (!this.settings.allowAutoTopicCreation && !(await admin.listTopics()).includes(this.topic)) {
      throw new ConfigError([`kafka.topic: expected topic ${this.topic} to exist (allowAutoTopicCreation is off), got none`]);
    }
    const metadata = await admin.fetchTopicMetadata({ topics: [this.topic] });
    const count = metadata.topics.find((topic) => topic.name === this.topic)?.partitions.length ?? 0;
    if (count === 0) throw new ConfigError([`kafka.topic: expected topic ${this.topic} to have partitions, got none`]);
    return count;
  }

  /**
   * Every partition's lag: end offset minus the group's committed offset (or the start
   * offset, before any commit). A group that is rebalancing may not answer for its offsets;
   * the last ones read stand in, which can only overestimate the lag (commits only move forward).
   */
  async #sampleLag(admin: Admin, partitions: number): Promise<number[]> {
    try {
      const [ends, committed] = await Promise.all([
        admin.fetchTopicOffsets(this.topic),
        admin.fetchOffsets({ groupId: this.groupId, topics: [this.topic] }).then(
          (topics) => topics[0]?.partitions ?? [],
          (error: unknown) => {
            this.#log.debug({ topic: this.topic, groupId: this.groupId, err: error }, 'committed offsets unavailable; using the last known');
            return [];
          },
        ),
      ]);
      for (const { partition, offset } of committed) {
        this.#committed.set(partition, Number(offset));
      }
      const lags = new Array<number>(partitions).fill(0);
      for (const end of ends) {
        const from = this.#committed.get(end.partition) ?? -1;
        lags[end.partition] = Math.max(0, Number(end.high) - (from >= 0 ? from : Number(end.low)));
      }
      return lags;
    } catch (error) {
      throw kafkaConnectionError(this.settings.brokers, `sampling the lag of ${this.topic} for group ${this.groupId}`, error);
    }
  }
}

/**
 * Splits records into runs of at most `maxBytes` of keys and values (a record larger than
 * that goes alone), so that no record batch exceeds what the broker accepts.
 */
function byteChunks<T extends { key: string; value: string }>(records: T[], maxBytes: number): { records: T[]; bytes: number }[] {
  const chunks: { records: T[]; bytes: number }[] = [];
  let chunk: T[] = [];
  let bytes = 0;
  for (const record of records) {
    // UTF-16 length × 3 bounds the UTF-8 size; measure exactly only when that bound is too high.
    const upper = (record.key.length + record.value.length) * 3;
    const size = bytes + upper <= maxBytes ? upper : Buffer.byteLength(record.key) + Buffer.byteLength(record.value);
    if (chunk.length > 0 && bytes + size > maxBytes) {
      chunks.push({ records: chunk, bytes });
      chunk = [];
      bytes = 0;
    }
    chunk.push(record);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push({ records: chunk, bytes });
  return chunks;
}
