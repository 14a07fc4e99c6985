import type { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accounts, type Account } from '../../src/domains/accounts.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { openRedis } from '../../src/common/redis.ts';
import { RedisStateStore } from '../../src/state/redis-store.ts';
import { KafkaTransport } from '../../src/transports/kafka/index.ts';
import { FAST_KAFKA, KAFKA_WAITS, startKafka, uniquePrefix } from '../support/kafka.ts';
import { fixtureProcesses, type Child } from '../support/processes.ts';
import { startRedis } from '../support/redis.ts';

const { startChild, until } = fixtureProcesses(new URL('./fixtures/', import.meta.url), KAFKA_WAITS);

const kafka = await startKafka();
const redis = await startRedis();
const SHARDS = 4;
const ACCOUNTS = 16;
const DEPOSITS = 400;

describe.skipIf(kafka === undefined || redis === undefined)('an owner killed between its state commit and its offset commit', () => {
  const children: Child[] = [];
  const topicPrefix = uniquePrefix('crash-commit');
  let env: Record<string, string>;
  let client: Redis;
  let store: RedisStateStore;
  let admin: ReturnType<Kafka['admin']>;

  beforeAll(async () => {
    await kafka!.createTopic(`${topicPrefix}accounts`, SHARDS);
    env = { KAFKA_BROKERS: kafka!.brokers.join(','), REDIS_URL: redis!.url, TOPIC_PREFIX: topicPrefix, SHARDS: String(SHARDS), MAX_BATCH: '25' };
    client = await openRedis(redis!.url, 'kafka-test');
    store = new RedisStateStore({ client, domain: accounts.name });
    admin = new Kafka({ brokers: kafka!.brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
  });

  afterAll(async () => {
    await Promise.all(children.map((child) => child.kill()));
    await admin?.disconnect();
    await client?.quit();
    await redis?.close();
    await kafka?.close();
  });

  it('leaves a redelivered range that the next owner does not apply twice', async () => {
    const transport = new KafkaTransport({ brokers: kafka!.brokers, topicPrefix, shards: SHARDS, ...FAST_KAFKA }, { domain: accounts.name });
    const producer = new Producer({ domain: accounts, transport });
    await producer.sendMany(Array.from({ length: ACCOUNTS }, (_, i) => ({ type: 'open' as const, key: `k${i}`, payload: {} })));
    const outcomes = await producer.sendMany(Array.from({ length: DEPOSITS }, (_, i) => ({ type: 'deposit' as const, key: `k${i % ACCOUNTS}`, payload: { amount: 1 } })));
    expect(outcomes.every((outcome) => outcome.ok)).toBe(true);
    await producer.close();
    await transport.close();

    // The first owner applies and commits a few batches of 25, then dies right after a store commit.
    const doomed = startChild('owner', { ...env, CRASH_AFTER_COMMITS: '3' }, 'doomed');
    children.push(doomed);
    await doomed.exited();
    expect(doomed.process.signalCode).toBe('SIGKILL');

    const groupId = `${topicPrefix}accounts.owners`;
    const committedOffsets = async () => {
      const [topic] = await admin.fetchOffsets({ groupId, topics: [`${topicPrefix}accounts`] });
      return new Map(topic!.partitions.map((p) => [p.partition, Number(p.offset)]));
    };
    const committed = await committedOffsets();
    let stateAhead = 0;
    for (let shard = 0; shard < SHARDS; shard++) {
      const { position } = await store.status(shard);
      // Offsets position+1-committed of this shard are in the store but not acknowledged to Kafka.
      stateAhead += Math.max(0, position + 1 - Math.max(0, committed.get(shard) ?? -1));
    }
    expect(stateAhead).toBeGreaterThan(0);

    const next = startChild('owner', env, 'next');
    children.push(next);
    const ends = await admin.fetchTopicOffsets(`${topicPrefix}accounts`);
    const balances = async () => {
      const found = new Map<string, number>();
      for await (const [key, state] of store.entries()) found.set(key, (state as Account).balance);
      return found;
    };
    await until('every deposit applied and the group caught up', async () => {
      const offsets = await committedOffsets();
      const caughtUp = ends.every((end) => Math.max(0, offsets.get(end.partition) ?? -1) === Number(end.high));
      const found = await balances();
      return caughtUp && found.size === ACCOUNTS && [...found.values()].reduce((a, b) => a + b, 0) >= DEPOSITS;
    });
    const found = await balances();
    expect(Object.fromEntries(found)).toEqual(Object.fromEntries(Array.from({ length: ACCOUNTS }, (_, i) => [`k${i}`, DEPOSITS / ACCOUNTS])));
  }, 120_000);
});
