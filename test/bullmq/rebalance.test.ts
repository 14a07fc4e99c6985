import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { accounts, type Account } from '../../src/domains/accounts.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { openRedis } from '../../src/common/redis.ts';
import { RedisStateStore } from '../../src/state/redis-store.ts';
import { BullmqTransport, RedisReplyBus } from '../../src/transports/bullmq/index.ts';
import { fixtureProcesses, type Child } from '../support/processes.ts';
import { startRedis, type RedisService } from '../support/redis.ts';

const { startChild, until } = fixtureProcesses(new URL('./fixtures/', import.meta.url));

const redis = await startRedis();
/** Capped rendezvous hashing: with 3 members each owns 10 or 11 of the 32 shards. */
const SHARDS = 32;
const ACCOUNTS = 16;

interface Interval {
  readonly consumer: number;
  readonly start: number;
  readonly end: number;
}

/** Each consumer's ownership intervals per shard, from its gained/lost reports. */
function intervals(consumers: readonly Child[]): Map<number, Interval[]> {
  const byShard = new Map<number, Interval[]>();
  consumers.forEach((consumer, index) => {
    const open = new Map<number, number>();
    for (const m of consumer.messages) {
      if (m.type !== 'ownership') continue;
      const shard = m.shard as number;
      if (m.event === 'gained') open.set(shard, m.at as number);
      else {
        const list = byShard.get(shard) ?? [];
        list.push({ consumer: index, start: open.get(shard)!, end: m.at as number });
        byShard.set(shard, list);
        open.delete(shard);
      }
    }
    for (const [shard, start] of open) {
      const list = byShard.get(shard) ?? [];
      list.push({ consumer: index, start, end: Infinity });
      byShard.set(shard, list);
    }
  });
  return byShard;
}

describe.skipIf(redis === undefined)('rebalance when a third consumer joins', () => {
  const service = redis as RedisService;
  const env = { REDIS_URL: service.url, SHARDS: String(SHARDS), LEASE_TTL_MS: '900' };
  const children: Child[] = [];
  const closers: (() => Promise<unknown>)[] = [];

  afterAll(async () => {
    await Promise.all(children.map((child) => child.kill()));
    for (const close of closers.reverse()) await close();
    await service.close();
  });

  it('moves shards to the joiner with exactly one owner of each shard at every instant', async () => {
    const client: Redis = await openRedis(service.url, 'test');
    closers.push(() => client.quit());
    const transport = new BullmqTransport({ url: service.url, domain: accounts.name, shards: SHARDS });
    const producer = new Producer({ domain: accounts, transport, replies: new RedisReplyBus({ client }) });
    closers.push(() => transport.close(), () => producer.close());

    const consumers = [startChild('consumer', env), startChild('consumer', env)];
    children.push(...consumers);
    await Promise.all(consumers.map((c) => c.next((m) => m.type === 'ready')));
    await Promise.all(Array.from({ length: ACCOUNTS }, (_, i) => producer.request('open', `a${i}`, {})));

    const expected = new Array<number>(ACCOUNTS).fill(0);
    let joined = false;
    let third: Child | undefined;
    for (let round = 0; round < 200 && !(joined && round > 40); round++) {
      const batch = Array.from({ length: 20 }, (_, i) => ({ type: 'deposit' as const, key: `a${(round + i) % ACCOUNTS}`, payload: { amount: 1 } }));
      const outcomes = await producer.sendMany(batch);
      outcomes.forEach((outcome, i) => {
        if (outcome.ok) expected[(round + i) % ACCOUNTS]! += 1;
      });
      if (round === 10) {
        third = startChild('consumer', env);
        children.push(third);
        consumers.push(third);
      }
      if (third !== undefined && !joined) joined = third.messages.some((m) => m.type === 'ownership' && m.event === 'gained');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(joined).toBe(true);
    await producer.flush();

    const store = new RedisStateStore({ client, domain: accounts.name });
    const balances = async () => {
      const found = new Array<number>(ACCOUNTS).fill(-1);
      for await (const [key, state] of store.entries()) found[Number(key.slice(1))] = (state as Account).balance;
      return found;
    };
    await until('every deposit to be applied', async () => (await balances()).every((b, i) => b === expected[i]), 30_000).catch(() => undefined);
    expect(await balances()).toEqual(expected);

    // On a loaded machine a lease can lapse locally and be taken again a moment later, so
    // "one current owner per shard" is read once ownership has settled; "never two at once"
    // holds over the whole history.
    const settled = () => [...intervals(consumers).values()].every((list) => list.filter((interval) => interval.end === Infinity).length === 1);
    await until('every shard to have one current owner', () => intervals(consumers).size === SHARDS && settled(), 30_000).catch(() => undefined);
    const owners = intervals(consumers);
    expect(new Set([...owners.keys()])).toEqual(new Set(Array.from({ length: SHARDS }, (_, s) => s)));
    for (const [shard, list] of owners) {
      list.sort((a, b) => a.start - b.start);
      for (let i = 1; i < list.length; i++) {
        expect({ shard, overlap: list[i]!.start < list[i - 1]!.end }).toEqual({ shard, overlap: false });
      }
      expect({ shard, current: list.filter((interval) => interval.end === Infinity).length }).toEqual({ shard, current: 1 });
    }
    expect([...owners.values()].some((list) => list.some((interval) => interval.consumer === 2 && interval.end === Infinity))).toBe(true);
  });
});
