import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accounts } from '../../src/domains/accounts.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { openRedis } from '../../src/common/redis.ts';
import { RedisStateStore } from '../../src/state/redis-store.ts';
import { KafkaReplyBus, KafkaTransport } from '../../src/transports/kafka/index.ts';
import { FAST_KAFKA, KAFKA_WAITS, startKafka, uniquePrefix } from '../support/kafka.ts';
import { fixtureProcesses, type Child } from '../support/processes.ts';
import { balancesReached, expectedBalances, ownedBy, storedBalances } from '../support/fixtures/owner-reports.ts';
import { startRedis } from '../support/redis.ts';

const { startChild, until } = fixtureProcesses(new URL('./fixtures/', import.meta.url), KAFKA_WAITS);

const kafka = await startKafka();
const redis = await startRedis();
const SHARDS = 4;
const ACCOUNTS = 20;
const INITIAL = 1_000_000;

describe.skipIf(kafka === undefined || redis === undefined)('owners in one consumer group, with producers running throughout', () => {
  const children: Child[] = [];
  const topicPrefix = uniquePrefix('handover');
  let env: Record<string, string>;
  let client: Redis;
  let store: RedisStateStore;

  beforeAll(async () => {
    await kafka!.createTopic(`${topicPrefix}accounts`, SHARDS);
    env = { KAFKA_BROKERS: kafka!.brokers.join(','), REDIS_URL: redis!.url, TOPIC_PREFIX: topicPrefix, SHARDS: String(SHARDS) };
    client = await openRedis(redis!.url, 'kafka-test');
    store = new RedisStateStore({ client, domain: accounts.name });
  });

  afterAll(async () => {
    await Promise.all(children.map((child) => child.kill()));
    await client?.quit();
    await redis?.close();
    await kafka?.close();
  });

  it('split the partitions, take some when a third joins, take a SIGKILLed one\'s over; money is conserved and every accepted transfer applied once', async () => {
    const [a, b] = [startChild('owner', env, 'owner-a'), startChild('owner', env, 'owner-b')];
    children.push(a, b);
    await Promise.all([a, b].map((owner) => owner.next((m) => m.type === 'ready')));
    await until('two owners splitting the 4 partitions', () => ownedBy(a).size > 0 && ownedBy(b).size > 0 && ownedBy(a).size + ownedBy(b).size === SHARDS);

    // Accounts are opened with request(): the replies come back over the Kafka reply topic.
    const transport = new KafkaTransport({ brokers: kafka!.brokers, topicPrefix, shards: SHARDS, ...FAST_KAFKA }, { domain: accounts.name });
    const replies = new KafkaReplyBus({ brokers: kafka!.brokers, topic: `${topicPrefix}replies` });
    const opener = new Producer({ domain: accounts, transport, replies });
    const opened = await Promise.all(Array.from({ length: ACCOUNTS }, (_, i) => opener.request('open', `a${i}`, { initialBalance: INITIAL })));
    expect(opened.every((reply) => reply.balance === INITIAL)).toBe(true);
    await opener.close();
    await replies.close();
    await transport.close();

    const producers = [0, 1].map((i) => startChild('producer', { ...env, ACCOUNTS: String(ACCOUNTS), COUNT: '20000', PACE_MS: '60' }, `producer-${i}`));
    children.push(...producers);
    await producers[0]!.next((m) => m.type === 'progress' && (m.sent as number) >= 300);

    const c = startChild('owner', env, 'owner-c');
    children.push(c);
    await until('the third owner taking partitions', () => ownedBy(c).size > 0 && ownedBy(a).size + ownedBy(b).size + ownedBy(c).size === SHARDS);
    expect(ownedBy(a).size).toBeGreaterThan(0);
    expect(ownedBy(b).size).toBeGreaterThan(0);

    const victim = ownedBy(a).size >= ownedBy(b).size ? a : b;
    const survivors = [a, b, c].filter((owner) => owner !== victim);
    const orphaned = [...ownedBy(victim)];
    await victim.kill();
    await until('the survivors taking the killed owner\'s partitions', () => orphaned.every((shard) => survivors.some((s) => ownedBy(s).has(shard))));
    const sentAtKill = producers.map((p) => p.messages.filter((m) => m.type === 'progress').length);
    await until('transfers sent after the hand-over', () => producers.every((p, i) => p.messages.filter((m) => m.type === 'progress').length >= sentAtKill[i]! + 5));

    for (const p of producers) p.process.send({ type: 'stop' });
    const done = await Promise.all(producers.map((p) => p.next((m) => m.type === 'done')));
    const { accepted, balances: expected } = expectedBalances(done, ACCOUNTS, INITIAL);
    expect(accepted).toBeGreaterThan(600);

    await until('every accepted transfer applied', () => balancesReached(store, expected)).catch(() => undefined);

    const found = await storedBalances(store);
    expect([...found.values()].reduce((sum, balance) => sum + balance, 0)).toBe(ACCOUNTS * INITIAL);
    expect([...found.values()].every((balance) => balance >= 0)).toBe(true);
    expect(Object.fromEntries(found)).toEqual(Object.fromEntries(expected));
  }, 150_000);
});
