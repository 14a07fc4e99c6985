import type { Redis } from 'ioredis';
import { Kafka, logLevel, Partitioners, type Message } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shardOf } from '../../src/core/router.ts';
import { accounts } from '../../src/domains/accounts.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { openRedis } from '../../src/common/redis.ts';
import { RedisStateStore } from '../../src/state/redis-store.ts';
import { KafkaTransport } from '../../src/transports/kafka/index.ts';
import { FAST_KAFKA, KAFKA_WAITS, startKafka, uniquePrefix } from '../support/kafka.ts';
import { fixtureProcesses, type Child } from '../support/processes.ts';
import { balancesReached, expectedBalances, storedBalances } from '../support/fixtures/owner-reports.ts';
import { startRedis } from '../support/redis.ts';

const { startChild, until } = fixtureProcesses(new URL('./fixtures/', import.meta.url), KAFKA_WAITS);

const kafka = await startKafka();
const redis = await startRedis();
const SHARDS = 4;
const ACCOUNTS = 20;
const INITIAL = 1_000_000;

/** A record another program writes into the domain's topic, and the dead letter it must become. */
interface Foreign {
  readonly shape: string;
  readonly key: string | null;
  readonly value: string | null;
  /** The partition it is written to. */
  readonly partition: number;
  readonly error: RegExp;
  /** The decoded type and key the dead letter names, when decoding got that far. */
  readonly type?: string;
  readonly decodedKey?: string;
}

/** A command that would change a balance if an owner applied it. */
const deposit = (id: string, key: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ id, type: 'deposit', key, payload: { amount: 1_000 }, sentAt: Date.now(), ...extra });

function foreignRecords(): Foreign[] {
  const at = (key: string) => shardOf(key, SHARDS);
  return Array.from({ length: SHARDS }, (_, p) => {
    const key = Array.from({ length: 100 }, (_, n) => `x${n}`).find((k) => at(k) === p)!;
    return [
      { shape: 'not JSON', key, value: '{not json', partition: p, error: /^decode: not JSON/ },
      { shape: 'null value', key, value: null, partition: p, error: /^foreign: record has no value/ },
      { shape: 'null key', key: null, value: deposit(`f-nokey-${p}`, 'a1'), partition: p, error: /^foreign: record has no key/ },
      { shape: 'JSON array', key, value: '[1,2,3]', partition: p, error: /^decode: expected a JSON object, got array/ },
      { shape: 'JSON object, not a command', key, value: '{"hello":"world"}', partition: p, error: /^decode: expected id to be a non-empty string/ },
      { shape: 'unknown command type', key, value: JSON.stringify({ id: `f-type-${p}`, type: 'explode', key, payload: {}, sentAt: 1 }), partition: p, error: /unknown command type "explode"/, type: 'explode', decodedKey: key },
      { shape: 'key differs from the command key', key, value: deposit(`f-key-${p}`, 'a1'), partition: p, error: /^decode: command key "a1" differs from the message key/ },
      { shape: 'very large value', key: 'a1', value: deposit(`f-large-${p}`, 'a1', { padding: 'x'.repeat(1_200_000) }), partition: p, error: /^foreign: record value is \d+ bytes, over maxRecordBytes \(1048576\)/ },
    ] satisfies Foreign[];
  }).flat();
}

describe.skipIf(kafka === undefined || redis === undefined)('records another program wrote into the domain topic, while producers run', () => {
  const children: Child[] = [];
  const topicPrefix = uniquePrefix('foreign');
  const topic = `${topicPrefix}accounts`;
  let env: Record<string, string>;
  let client: Redis;
  let store: RedisStateStore;

  beforeAll(async () => {
    await kafka!.createTopic(topic, SHARDS);
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

  it('are dead-lettered each with its reason, the partitions move on, valid commands are applied once, and no process exits', async () => {
    const owners = [startChild('owner', env, 'owner-a'), startChild('owner', env, 'owner-b')];
    children.push(...owners);
    await Promise.all(owners.map((owner) => owner.next((m) => m.type === 'ready')));

    const transport = new KafkaTransport({ brokers: kafka!.brokers, topicPrefix, shards: SHARDS, ...FAST_KAFKA }, { domain: accounts.name });
    const opener = new Producer({ domain: accounts, transport });
    const opened = await opener.sendMany(Array.from({ length: ACCOUNTS }, (_, i) => ({ type: 'open' as const, key: `a${i}`, payload: { initialBalance: INITIAL } })));
    expect(opened.every((outcome) => outcome.ok)).toBe(true);
    await opener.close();
    await transport.close();

    const producer = startChild('producer', { ...env, ACCOUNTS: String(ACCOUNTS), COUNT: '3000', PACE_MS: '30' }, 'producer');
    children.push(producer);
    await producer.next((m) => m.type === 'progress' && (m.sent as number) >= 200);

    const writer = new Kafka({ brokers: kafka!.brokers, clientId: 'foreign-writer', logLevel: logLevel.NOTHING }).producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await writer.connect();
    const written: (Foreign & { offset: number })[] = [];
    try {
      for (const record of foreignRecords()) {
        const message: Message = { key: record.key, value: record.value, partition: record.partition };
        const [meta] = await writer.send({ topic, messages: [message] });
        written.push({ ...record, offset: Number(meta!.baseOffset) });
      }
    } finally {
      await writer.disconnect();
    }

    const { balances: expected } = expectedBalances([await producer.next((m) => m.type === 'done')], ACCOUNTS, INITIAL);
    await until('every accepted transfer applied and every foreign record dead-lettered', async () => (await store.deadLetters.count()) >= written.length && (await balancesReached(store, expected))).catch(() => undefined);

    const letters = await store.deadLetters.list(1_000);
    const byPlace = new Map(letters.map((letter) => [`${letter.shard}@${letter.position}`, letter]));
    const mismatches = written.flatMap((record) => {
      const letter = byPlace.get(`${record.partition}@${record.offset}`);
      const ok = letter !== undefined && record.error.test(letter.error) && letter.type === record.type && letter.key === record.decodedKey && letter.value.length <= 1_024;
      return ok ? [] : [{ shape: record.shape, partition: record.partition, letter: letter === undefined ? null : { error: letter.error, type: letter.type, key: letter.key } }];
    });
    expect(mismatches).toEqual([]);
    expect(letters).toHaveLength(written.length);
    const found = await storedBalances(store);
    expect(Object.fromEntries(found)).toEqual(Object.fromEntries(expected));
    expect([...found.values()].reduce((sum, balance) => sum + balance, 0)).toBe(ACCOUNTS * INITIAL);
    expect(owners.map((owner) => owner.process.exitCode ?? owner.process.signalCode)).toEqual([null, null]);
    expect(producer.process.exitCode ?? 0).toBe(0);
  }, 180_000);
});
