import { afterAll, describe, expect, it } from 'vitest';
import { RecordingHandler, waitFor } from '../../src/testing/index.ts';
import { ConfigError, ConnectionError } from '../../src/core/errors.ts';
import { createTransport, KafkaReplyBus, KafkaTransport } from '../../src/transports/kafka/index.ts';
import { silentLogger } from '../../src/common/logger.ts';
import { FAST_KAFKA, MOCK_PARTITIONS, startKafka, uniquePrefix } from '../support/kafka.ts';

const kafka = await startKafka();
afterAll(() => kafka?.close());

describe('Kafka transport options and connection errors', () => {
  it('reports every wrong option at once as a ConfigError with its path', () => {
    const build = () => new KafkaTransport({ brokers: 'nohost', capacity: 0, heartbeatIntervalMs: 5_000, sessionTimeoutMs: 6_000, topicPrefix: 'bad prefix' } as never, { domain: 'accounts' });
    expect(build).toThrow(ConfigError);
    try {
      build();
    } catch (error) {
      const issues = (error as ConfigError).issues.join('\n');
      expect(issues).toMatch(/kafka\.brokers: expected every broker as host:port/);
      expect(issues).toMatch(/kafka\.capacity/);
      expect(issues).toMatch(/kafka\.topicPrefix/);
      expect(issues).toMatch(/kafka\.heartbeatIntervalMs: expected at most a third of sessionTimeoutMs \(6000\), got 5000/);
    }
  });

  it('createTransport takes the brokers from KAFKA_BROKERS when the options have none', () => {
    const saved = process.env.KAFKA_BROKERS;
    process.env.KAFKA_BROKERS = '127.0.0.1:19092, 127.0.0.1:19093';
    try {
      const transport = createTransport({ topicPrefix: 'p.' }, { domain: 'accounts', logger: silentLogger }) as KafkaTransport;
      expect(transport.settings.brokers).toEqual(['127.0.0.1:19092', '127.0.0.1:19093']);
      expect(transport.topic).toBe('p.accounts');
      expect(transport.groupId).toBe('p.accounts.owners');
    } finally {
      if (saved === undefined) delete process.env.KAFKA_BROKERS;
      else process.env.KAFKA_BROKERS = saved;
    }
  });

  it('fails connect() with a ConnectionError naming the brokers when none answers', async () => {
    const transport = new KafkaTransport({ brokers: ['127.0.0.1:1', '127.0.0.1:2'], retries: 0, connectionTimeoutMs: 500 }, { domain: 'accounts' });
    const failure = await transport.connect().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ConnectionError);
    expect((failure as ConnectionError).message).toMatch(/kafka brokers 127\.0\.0\.1:1,127\.0\.0\.1:2: connecting and reading the metadata of topic shardline\.accounts failed/);
    expect((failure as ConnectionError).retriable).toBe(true);
    await transport.close();

    const replies = new KafkaReplyBus({ brokers: ['127.0.0.1:1'], retries: 0, connectionTimeoutMs: 500 });
    await expect(replies.listen(() => {})).rejects.toThrow(/kafka brokers 127\.0\.0\.1:1: connecting the reply bus/);
    await replies.close();
  });

  it.skipIf(kafka === undefined)('fails connect() with a ConfigError when the partition count differs from the configured shards', async () => {
    const transport = new KafkaTransport({ brokers: kafka!.brokers, topicPrefix: uniquePrefix('shards'), shards: 97, ...FAST_KAFKA }, { domain: 'accounts' });
    const failure = await transport.connect().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ConfigError);
    expect((failure as ConfigError).message).toMatch(/kafka\.shards: expected topic test\.shards\.\S+accounts to have 97 partitions \(the configured shard count\), got \d+/);
    await transport.close();
  });

  it.skipIf(kafka === undefined)('writes an enqueue larger than maxProduceBytes in several produce calls, in order', async () => {
    const topicPrefix = uniquePrefix('chunks');
    await kafka!.createTopic(`${topicPrefix}chunks`, MOCK_PARTITIONS);
    const options = { brokers: kafka!.brokers, topicPrefix, maxProduceBytes: 1_000, ...FAST_KAFKA };
    const producer = new KafkaTransport(options, { domain: 'chunks' });
    const owner = new KafkaTransport(options, { domain: 'chunks' });
    const handler = new RecordingHandler('owner');
    try {
      const values = Array.from({ length: 40 }, (_, i) => `${i}:${'x'.repeat(100)}`);
      await producer.enqueue(1, values.map((value) => ({ key: 'k', value })), { overflow: 'reject', timeoutMs: 1_000, reserve: 0 });
      await owner.consume(handler);
      await waitFor('every message delivered', () => handler.values(1).length === values.length, 20_000);
      expect(handler.values(1)).toEqual(values);
    } finally {
      await owner.close();
      await producer.close();
    }
  }, 60_000);
});
