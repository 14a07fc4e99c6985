import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accounts } from '../../src/domains/accounts.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { openRedis } from '../../src/common/redis.ts';
import { RedisStateStore } from '../../src/state/redis-store.ts';
import { BullmqTransport } from '../../src/transports/bullmq/index.ts';
import { shardKeys } from '../../src/transports/bullmq/keys.ts';
import { TransportScripts } from '../../src/transports/bullmq/scripts.ts';
import { until } from '../support/processes.ts';
import { startRedis, type RedisService } from '../support/redis.ts';

const redis = await startRedis();
const TTL_MS = 300;
const block = { overflow: 'block', timeoutMs: 5_000, reserve: 0 } as const;

describe.skipIf(redis === undefined)('room reserved for a job that never came', () => {
  const service = redis as RedisService;
  const closers: (() => Promise<unknown>)[] = [];
  let client: Redis;
  let scripts: TransportScripts;

  beforeAll(async () => {
    client = await openRedis(service.url, 'test');
    scripts = new TransportScripts(client);
  });

  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await client?.quit();
    await service.close();
  });

  function transport(domain: string, options: { capacity?: number } = {}): BullmqTransport {
    const created = new BullmqTransport({ url: service.url, domain, shards: 1, capacity: options.capacity ?? 16, reservationTtlMs: TTL_MS, leaseTtlMs: 600, idlePollMs: 50 });
    closers.push(() => created.close());
    return created;
  }

  /** Waits until Redis's own clock is past every reservation's expiry. */
  async function reservationsLapsed(domain: string): Promise<void> {
    const keys = shardKeys('shardline', domain, 0);
    const scores = (await client.zrange(keys.reservations, 0, -1, 'WITHSCORES')).filter((_, i) => i % 2 === 1).map(Number);
    const latest = Math.max(0, ...scores);
    await until('every reservation to pass its expiry', async () => {
      const [seconds, micros] = await client.time();
      return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) > latest;
    }, 10_000);
  }

  it('is given back by depth() once reservationTtlMs passed with no traffic at all', async () => {
    const t = transport('lapsed-depth');
    const keys = shardKeys('shardline', 'lapsed-depth', 0);
    await t.connect();
    // What a producer does before it adds its job; it is killed before adding.
    expect(await scripts.reserve(keys, 3, 16, 0, false, 'sldead0000000000', TTL_MS)).toEqual({ admitted: true, held: 3 });
    expect(await t.depth(0)).toBe(3);
    await reservationsLapsed('lapsed-depth');
    expect(await t.depth(0)).toBe(0);
    expect(await client.zcard(keys.reservations)).toBe(0);
  });

  it('is given back by an idle owner polling its shard, without anyone calling depth()', async () => {
    const domain = 'lapsed-owner';
    const keys = shardKeys('shardline', domain, 0);
    const t = transport(domain);
    const owner = new Owner({ domain: accounts, transport: t, store: new RedisStateStore({ client, domain }) });
    closers.push(() => owner.close());
    await owner.start();
    await until('the owner to hold the shard', () => owner.owned().length === 1, 10_000);
    await scripts.reserve(keys, 5, 16, 0, false, 'sldead0000000001', TTL_MS);
    expect(Number(await client.get(keys.held))).toBe(5);
    await until('the owner’s polls to give the room back', async () => Number(await client.get(keys.held)) === 0, 10_000);
  });

  it('counts a reserve once when it is replayed after a lost reply', async () => {
    const keys = shardKeys('shardline', 'replayed', 0);
    expect(await scripts.reserve(keys, 4, 16, 0, false, 'slreplayed000000', 60_000)).toEqual({ admitted: true, held: 4 });
    expect(await scripts.reserve(keys, 4, 16, 0, false, 'slreplayed000000', 60_000)).toEqual({ admitted: true, held: 4 });
    expect(Number(await client.get(keys.held))).toBe(4);
  });

  it('keeps counting a waiting job after its reservation lapsed, so the bound holds with no owner', async () => {
    const domain = 'unowned';
    const t = transport(domain, { capacity: 4 });
    await t.enqueue(0, [1, 2, 3, 4].map((i) => ({ key: `k${i}`, value: `v${i}` })), block);
    await reservationsLapsed(domain);
    expect(await t.depth(0)).toBe(4);
    await expect(t.enqueue(0, [{ key: 'k5', value: 'v5' }], { ...block, overflow: 'reject' })).rejects.toMatchObject({ code: 'QUEUE_FULL' });
    expect(await t.depth(0)).toBe(4);
  });
});
