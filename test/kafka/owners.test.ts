import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shardOf } from '../../src/core/router.ts';
import { accounts } from '../../src/domains/accounts.ts';
import { Producer } from '../../src/runtime/producer.ts';
import type { ShardOwner } from '../../src/transports/transport.ts';
import { KafkaTransport } from '../../src/transports/kafka/index.ts';
import { FAST_KAFKA, KAFKA_WAITS, startKafka, uniquePrefix } from '../support/kafka.ts';
import { fixtureProcesses, type Child } from '../support/processes.ts';
import { ownedBy } from '../support/fixtures/owner-reports.ts';
import { startRedis } from '../support/redis.ts';

const { startChild, until } = fixtureProcesses(new URL('./fixtures/', import.meta.url), KAFKA_WAITS);

const kafka = await startKafka();
const redis = await startRedis();
const SHARDS = 4;

describe.skipIf(kafka === undefined || redis === undefined)('owners() of the Kafka transport, with two consumer processes', () => {
  const children: Child[] = [];
  const topicPrefix = uniquePrefix('owners');
  let env: Record<string, string>;
  let inspector: KafkaTransport;

  beforeAll(async () => {
    await kafka!.createTopic(`${topicPrefix}accounts`, SHARDS);
    env = { KAFKA_BROKERS: kafka!.brokers.join(','), REDIS_URL: redis!.url, TOPIC_PREFIX: topicPrefix, SHARDS: String(SHARDS) };
    inspector = new KafkaTransport({ brokers: kafka!.brokers, topicPrefix, shards: SHARDS, ...FAST_KAFKA }, { domain: accounts.name });
  });

  afterAll(async () => {
    await inspector?.close();
    await Promise.all(children.map((child) => child.kill()));
    await redis?.close();
    await kafka?.close();
  });

  it('names the process holding each partition, and the survivor after the other is killed', async () => {
    const startedAt = Date.now();
    const [a, b] = [startChild('owner', env, 'owner-a'), startChild('owner', env, 'owner-b')];
    children.push(a, b);
    await until('two owners splitting the 4 partitions', () => ownedBy(a).size > 0 && ownedBy(b).size > 0 && ownedBy(a).size + ownedBy(b).size === SHARDS);

    // One account per partition, so that every partition has an applied position.
    const keys = Array.from({ length: SHARDS }, (_, p) => Array.from({ length: 100 }, (_, n) => `k${n}`).find((key) => shardOf(key, SHARDS) === p)!);
    const producer = new Producer({ domain: accounts, transport: inspector });
    expect((await producer.sendMany(keys.map((key) => ({ type: 'open' as const, key, payload: {} })))).every((outcome) => outcome.ok)).toBe(true);
    await producer.close();

    let owners: readonly (ShardOwner | undefined)[] = [];
    const holderPid = (shard: number) => [a, b].find((child) => ownedBy(child).has(shard))?.process.pid;
    await until('owners() naming the holder of every partition', async () => {
      owners = await inspector.owners();
      return owners.length === SHARDS && owners.every((owner, shard) => owner !== undefined && owner.pid === holderPid(shard));
    });
    expect(owners.every((owner) => owner!.host === hostname() && owner!.epoch === 0 && owner!.since! >= startedAt && owner!.since! <= Date.now())).toBe(true);
    const members = new Map(owners.map((owner) => [owner!.pid, owner!.member]));
    expect(members.size).toBe(2);
    expect(new Set(members.values()).size).toBe(2);

    await b.kill();
    await until('owners() naming the survivor for every partition', async () => {
      owners = await inspector.owners();
      return owners.every((owner) => owner?.pid === a.process.pid);
    });
    expect(owners.every((owner) => owner!.member !== members.get(b.process.pid!))).toBe(true);
  }, 120_000);
});
