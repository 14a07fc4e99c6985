import { randomBytes } from 'node:crypto';
import { AssignerProtocol, Partitioners, type Admin, type Consumer, type PartitionAssigner, type Producer } from 'kafkajs';
import { z } from 'zod';
import { ClosedError } from '../../core/errors.ts';
import { silentLogger, type Logger } from '../../common/logger.ts';
import { parseOptions } from '../../common/options.ts';
import type { Reply, ReplyBus } from '../../common/replies.ts';
import { createKafkaClient, kafkaConnectionError, type KafkaClient } from './kafka-client.ts';
import { KafkaLog } from './kafka-log.ts';
import { kafkaTransportFields } from './kafka-options.ts';
import { readReplies, type DropReason } from './reply-records.ts';

const replyBusSchema = kafkaTransportFields.pick({ brokers: true, client: true, clientId: true, connectionTimeoutMs: true, retries: true, maxWaitTimeMs: true }).extend({
  /** The topic replies travel on; every producer listens on one of its partitions. */
  topic: z.string().min(1).max(249).regex(/^[a-zA-Z0-9._-]+$/, 'expected letters, digits, ".", "_" or "-"').default('shardline.replies'),
}).strict().refine((options) => options.brokers !== undefined || options.client !== undefined, { path: ['brokers'], message: 'expected brokers (host:port) or a client' });

/** Options of a {@link KafkaReplyBus}; `brokers` (or `client`) is required. */
export type KafkaReplyBusOptions = z.input<typeof replyBusSchema> & { readonly logger?: Logger };

const ADDRESS = /^kafka:([a-zA-Z0-9._-]+)\/(\d+)\/([A-Za-z0-9_-]+)$/;

interface Connection {
  readonly admin: Admin;
  readonly producer: Producer;
  readonly partitions: number;
}

/**
 * Replies over a Kafka topic. A listening process picks one partition of the reply topic
 * at random and reads it from its end with a consumer group of its own, whose assigner
 * gives it only that partition; its address is `kafka:<topic>/<partition>/<id>`. Owners
 * publish a batch of replies as one record keyed by the id on that partition; a listener
 * ignores records with other ids. Replies to a listener that has gone are written and never
 * read: dropped without harm. Anyone can write to the topic: a record with a listener's id
 * that is not an array of well-formed replies, or a malformed reply in it, is dropped and
 * counted per reason (`dropped()`), and the replies beside it and after it still arrive. `listen` resolves before the group join completes: the
 * listener seeks to the partition's end offset as read before `listen` resolved, so no reply
 * to a request sent after that is missed.
 */
export class KafkaReplyBus implements ReplyBus {
  readonly #settings: z.output<typeof replyBusSchema>;
  readonly #client: KafkaClient;
  readonly #log: KafkaLog;
  readonly #consumers: Consumer[] = [];
  readonly #dropped = new Map<DropReason, number>();
  #connecting: Promise<Connection> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: KafkaReplyBusOptions) {
    const { logger, ...rest } = options;
    this.#settings = parseOptions(replyBusSchema, rest, 'replies');
    this.#log = new KafkaLog(logger ?? silentLogger);
    this.#client = this.#settings.client ?? createKafkaClient({ ...this.#settings, brokers: this.#settings.brokers! }, this.#log);
  }

  /** How many reply records, or replies within one, this bus dropped so far, per reason. */
  dropped(): Partial<Record<DropReason, number>> {
    return Object.fromEntries(this.#dropped);
  }

  async listen(onReplies: (replies: readonly Reply[]) => void): Promise<string> {
    const { admin, partitions } = await this.#connected();
    const { topic } = this.#settings;
    const id = randomBytes(9).toString('base64url');
    const partition = Math.floor(Math.random() * partitions);
    const consumer = this.#client.consumer({
      groupId: `${topic}.listener.${id}`,
      partitionAssigners: [onlyPartition(topic, partition)],
      maxWaitTimeInMs: this.#settings.maxWaitTimeMs,
    });
    this.#consumers.push(consumer);
    try {
      const end = (await admin.fetchTopicOffsets(topic)).find((p) => p.partition === partition)!.high;
      consumer.on(consumer.events.GROUP_JOIN, () => consumer.seek({ topic, partition, offset: end }));
      await consumer.connect();
      await consumer.subscribe({ topics: [topic] });
    } catch (error) {
      throw kafkaConnectionError(this.#settings.brokers, `listening for replies on ${topic} partition ${partition}`, error);
    }
    const key = Buffer.from(id);
    consumer
      .run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          for (const message of batch.messages) {
            if (message.key === null || !key.equals(message.key)) continue;
            const { replies, dropped } = readReplies(message.value);
            for (const reason of dropped) {
              this.#dropped.set(reason, (this.#dropped.get(reason) ?? 0) + 1);
              this.#log.warn(`reply dropped: ${reason}`, { topic, partition, offset: message.offset, reason }, 'reply record dropped: not a shardline reply');
            }
            if (replies.length === 0) continue;
            try {
              onReplies(replies);
            } catch (error) {
              this.#log.warn('reply listener threw', { topic, partition, offset: message.offset, err: error }, 'the reply listener threw; its replies are dropped');
            }
          }
        },
      })
      .catch((error: unknown) => this.#log.warn('reply listener failed to start', { topic, partition, err: error }, 'reply listener failed to start'));
    return `kafka:${topic}/${partition}/${id}`;
  }

  async publish(address: string, replies: readonly Reply[]): Promise<void> {
    const match = ADDRESS.exec(address);
    if (match === null) {
      this.#log.debug({ address }, 'reply dropped: not a kafka reply address');
      return;
    }
    const [, topic, partition, id] = match;
    const { producer } = await this.#connected();
    try {
      await producer.send({ topic: topic!, messages: [{ key: id!, value: JSON.stringify(replies), partition: Number(partition) }] });
    } catch (error) {
      throw kafkaConnectionError(this.#settings.brokers, `publishing replies to ${address}`, error);
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.allSettled(this.#consumers.splice(0).map((consumer) => consumer.disconnect()));
      const connection = await this.#connecting?.catch(() => undefined);
      if (connection !== undefined) await Promise.allSettled([connection.producer.disconnect(), connection.admin.disconnect()]);
      this.#log.close();
    })();
    return this.#closing;
  }

  #connected(): Promise<Connection> {
    if (this.#closing !== undefined) return Promise.reject(new ClosedError('kafka reply bus'));
    this.#connecting ??= (async () => {
      const { topic } = this.#settings;
      const admin = this.#client.admin();
      const producer = this.#client.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      try {
        await admin.connect();
        const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
        const partitions = metadata.topics.find((t) => t.name === topic)?.partitions.length ?? 0;
        if (partitions === 0) throw new Error(`topic ${topic} has no partitions`);
        await producer.connect();
        return { admin, producer, partitions };
      } catch (error) {
        await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
        throw kafkaConnectionError(this.#settings.brokers, `connecting the reply bus on ${topic}`, error);
      }
    })();
    this.#connecting.catch(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }
}

/** An assigner for a group of one: gives its member `partition` of `topic` and nothing else. */
function onlyPartition(topic: string, partition: number): PartitionAssigner {
  return () => ({
    name: 'ShardlineReplyPartition',
    version: 0,
    async assign({ members }) {
      return members.map(({ memberId }, index) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: index === 0 ? { [topic]: [partition] } : {}, userData: Buffer.alloc(0) }),
      }));
    },
    protocol({ topics }) {
      return { name: 'ShardlineReplyPartition', metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }) };
    },
  });
}
