import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accounts } from '../../src/domains/accounts.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { openRedis } from '../../src/common/redis.ts';
import { RedisDeadLetterQueue } from '../../src/state/redis-dead-letters.ts';
import { RedisStateStore } from '../../src/state/redis-store.ts';
import { BullmqTransport } from '../../src/transports/bullmq/index.ts';
import { shardKeys } from '../../src/transports/bullmq/keys.ts';
import { TransportScripts } from '../../src/transports/bullmq/scripts.ts';
import { fixtureProcesses, type Child } from '../support/processes.ts';
import { startRedis, type RedisService } from '../support/redis.ts';

const { startChild, until } = fixtureProcesses(new URL('./fixtures/', import.meta.url));

const redis = await startRedis();
const CAPACITY = 50;

describe.skipIf(redis === undefined)('the per-shard bound across producer processes', () => {
  const service = redis as RedisService;
  const children: Child[] = [];
  let client: Redis;

  beforeAll(async () => {
    client = await openRedis(service.url, 'test');
  });

  afterAll(async () => {
    await Promise.all(children.map((child) => child.kill()));
    await client?.quit();
    await service.close();
  });

  it('never admits more than the capacity when three processes push at once', async () => {
    const env = { REDIS_URL: service.url, MODE: 'flood', DOMAIN: 'flood', CAPACITY: String(CAPACITY), COUNT: '300' };
    const producers = [0, 1, 2].map(() => startChild('producer', env));
    children.push(...producers);
    const reports = await Promise.all(producers.map((p) => p.next((m) => m.type === 'done')));
    const admitted = reports.reduce((sum, r) => sum + (r.admitted as number), 0);
    const refused = reports.reduce((sum, r) => sum + (r.refused as number), 0);

    const queue = new Queue('flood.0', { connection: client, prefix: 'shardline' });
    const jobs = await queue.getWaiting(0, -1);
    const held = jobs.reduce((sum, job) => sum + (job.data as { m: unknown[] }).m.length, 0);
    await queue.close();

    expect(admitted).toBeLessThanOrEqual(CAPACITY);
    expect(admitted).toBeGreaterThan(CAPACITY - 3);
    expect(refused).toBeGreaterThan(0);
    expect(held).toBe(admitted);
    expect(Number(await client.get('shardline:flood.0:sl:held'))).toBe(admitted);
  });

  it('gives back the room of a producer that died between reserving it and adding its job', async () => {
    const keys = shardKeys('shardline', 'lapsed', 0);
    const scripts = new TransportScripts(client);
    // A TTL long enough not to lapse between these two calls on a loaded machine.
    expect(await scripts.reserve(keys, 3, 4, 0, false, 'dead', 1_000)).toEqual({ admitted: true, held: 3 });
    expect(await scripts.reserve(keys, 3, 4, 0, false, 'next', 60_000)).toEqual({ admitted: false, held: 3 });
    await until('the dead producer’s reservation to lapse', async () => (await scripts.reserve(keys, 3, 4, 0, false, 'next', 60_000)).admitted, 10_000);
    expect(Number(await client.get(keys.held))).toBe(3);
  });

  it('blocks a full shard until its owner frees room, and dead-letters what cannot be decoded', async () => {
    const transport = new BullmqTransport({ url: service.url, domain: 'blocked', shards: 1, capacity: 4, leaseTtlMs: 600 });
    const junk = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: `not json ${i}` }));
    await transport.enqueue(0, junk(4), { overflow: 'block', timeoutMs: 1000, reserve: 0 });
    await expect(transport.enqueue(0, junk(1), { overflow: 'reject', timeoutMs: 1000, reserve: 0 })).rejects.toMatchObject({ code: 'QUEUE_FULL' });
    await expect(transport.enqueue(0, junk(1), { overflow: 'block', timeoutMs: 100, reserve: 0 })).rejects.toMatchObject({ code: 'TIMEOUT' });

    const blocked = transport.enqueue(0, junk(2), { overflow: 'block', timeoutMs: 20_000, reserve: 0 });
    const owner = new Owner({ domain: accounts, transport, store: new RedisStateStore({ client, domain: 'blocked' }) });
    const deadLetters = new RedisDeadLetterQueue({ client, domain: 'blocked' });
    await owner.start();
    try {
      await expect(blocked).resolves.toMatchObject({ waitedMs: expect.any(Number) });
      const deadline = Date.now() + 20_000;
      while ((await deadLetters.count()) < 6 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      const letters = await deadLetters.list(10);
      expect(letters).toHaveLength(6);
      expect(letters[0]).toMatchObject({ shard: 0, value: 'not json 0', attempts: 0, error: expect.stringContaining('not JSON') });
    } finally {
      await owner.close();
      await transport.close();
    }
  });
});
