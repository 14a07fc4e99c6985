import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accounts, type Account } from '../../src/domains/accounts.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { openRedis } from '../../src/common/redis.ts';
import { RedisStateStore } from '../../src/state/redis-store.ts';
import { BullmqTransport, RedisReplyBus } from '../../src/transports/bullmq/index.ts';
import { fixtureProcesses, type Child } from '../support/processes.ts';
import { startRedis, type RedisService } from '../support/redis.ts';

const { startChild, until } = fixtureProcesses(new URL('./fixtures/', import.meta.url));

const redis = await startRedis();
/** Members are random ids: with 16 shards one of two consumers owns none about once in 30,000 runs. */
const SHARDS = 16;
const ACCOUNTS = 20;
const INITIAL = 1_000_000;
const PER_PRODUCER = 1_500;

describe.skipIf(redis === undefined)('two consumers, two producers, one consumer SIGKILLed midway', () => {
  const service = redis as RedisService;
  const env = { REDIS_URL: service.url, SHARDS: String(SHARDS), LEASE_TTL_MS: '1000' };
  const children: Child[] = [];
  let client: Redis;
  let store: RedisStateStore;

  beforeAll(async () => {
    client = await openRedis(service.url, 'test');
    store = new RedisStateStore({ client, domain: accounts.name });
  });

  afterAll(async () => {
    await Promise.all(children.map((child) => child.kill()));
    await client?.quit();
    await service.close();
  });

  it('conserves money and applies every accepted transfer exactly once', async () => {
    const consumers = [startChild('consumer', env), startChild('consumer', env)];
    children.push(...consumers);
    await Promise.all(consumers.map((c) => c.next((m) => m.type === 'ready')));

    const transport = new BullmqTransport({ url: service.url, domain: accounts.name, shards: SHARDS });
    const producer = new Producer({ domain: accounts, transport, replies: new RedisReplyBus({ client }) });
    await Promise.all(Array.from({ length: ACCOUNTS }, (_, i) => producer.request('open', `a${i}`, { initialBalance: INITIAL })));
    await producer.close();
    await transport.close();

    const [victim, survivor] = consumers as [Child, Child];
    await until('both consumers to own shards', () =>
      consumers.every((c) => c.messages.some((m) => m.type === 'ownership' && m.event === 'gained')),
    );
    const producers = [0, 1].map(() => startChild('producer', { ...env, MODE: 'transfers', COUNT: String(PER_PRODUCER), ACCOUNTS: String(ACCOUNTS) }));
    children.push(...producers);
    await producers[0]!.next((m) => m.type === 'progress' && (m.sent as number) >= PER_PRODUCER / 2);
    await victim.kill();

    const done = await Promise.all(producers.map((p) => p.next((m) => m.type === 'done', 60_000)));
    const expected = new Map<string, number>();
    for (let i = 0; i < ACCOUNTS; i++) expected.set(`a${i}`, INITIAL);
    let accepted = 0;
    for (const report of done) {
      accepted += report.accepted as number;
      for (const [key, change] of Object.entries(report.net as Record<string, number>)) expected.set(key, expected.get(key)! + change);
    }
    expect(accepted).toBe(2 * PER_PRODUCER);

    const balances = async () => {
      const found = new Map<string, number>();
      for await (const [key, state] of store.entries()) found.set(key, (state as Account).balance);
      return found;
    };
    const drained = async () => {
      const waiting = await Promise.all(Array.from({ length: SHARDS }, (_, s) => client.llen(`shardline:accounts.${s}:wait`)));
      if (waiting.some((n) => n > 0)) return false;
      const found = await balances();
      return [...expected].every(([key, balance]) => found.get(key) === balance);
    };
    await until('every accepted transfer to be applied', drained, 45_000).catch(() => undefined);

    const found = await balances();
    const total = [...found.values()].reduce((sum, b) => sum + b, 0);
    expect(total).toBe(ACCOUNTS * INITIAL);
    expect([...found.values()].every((b) => b >= 0)).toBe(true);
    expect(Object.fromEntries(found)).toEqual(Object.fromEntries(expected));

    const gainedBySurvivor = new Set(survivor.messages.filter((m) => m.type === 'ownership' && m.event === 'gained').map((m) => m.shard));
    expect(gainedBySurvivor.size).toBe(SHARDS);
  });
});
