import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { accounts, type Account } from '../../src/domains/accounts.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { openRedis } from '../../src/common/redis.ts';
import { RedisStateStore } from '../../src/state/redis-store.ts';
import { BullmqTransport, RedisReplyBus } from '../../src/transports/bullmq/index.ts';
import { shardKeys } from '../../src/transports/bullmq/keys.ts';
import { fixtureProcesses, type Child } from '../support/processes.ts';
import { startRedis, type RedisService } from '../support/redis.ts';

const { startChild, until } = fixtureProcesses(new URL('./fixtures/', import.meta.url));

/** fsync always: whatever Redis acknowledged survives each SIGKILL. */
const redis = await startRedis({ durable: true });
const SHARDS = 4;
const ACCOUNTS = Array.from({ length: 8 }, (_, i) => `r${i}`);
const RESTARTS = 6;
/** Deposits accepted between two restarts, so every restart lands under load. */
const BETWEEN_RESTARTS = 1_500;
const LANES = 16;
/** The load stops here whatever happens, so the test stays bounded. */
const MAX_DEPOSITS = 40_000;

describe.skipIf(redis === undefined)('Redis restarted again and again under a deposit load', () => {
  const service = redis as RedisService;
  const children: Child[] = [];
  const closers: (() => Promise<unknown>)[] = [];

  afterAll(async () => {
    await Promise.all(children.map((child) => child.kill()));
    for (const close of closers.reverse()) await close();
    await service.close();
  });

  it('applies exactly the deposits the producer saw accepted', { timeout: 180_000 }, async () => {
    const client: Redis = await openRedis(service.url, 'test');
    closers.push(() => client.quit());
    const consumer = startChild('consumer', { REDIS_URL: service.url, SHARDS: String(SHARDS), LEASE_TTL_MS: '2000' });
    children.push(consumer);
    await consumer.next((m) => m.type === 'ready');

    const transport = new BullmqTransport({ url: service.url, domain: accounts.name, shards: SHARDS });
    const producer = new Producer({ domain: accounts, transport, replies: new RedisReplyBus({ client }), requestTimeoutMs: 30_000, enqueueTimeoutMs: 60_000 });
    closers.push(() => transport.close(), () => producer.close());
    await Promise.all(ACCOUNTS.map((key) => producer.request('open', key, {})));

    let accepted = 0;
    let failed = 0;
    let stop = false;
    const lanes = Array.from({ length: LANES }, async (_, lane) => {
      for (let i = 0; !stop && accepted + failed < MAX_DEPOSITS; i++) {
        try {
          await producer.send('deposit', ACCOUNTS[(lane + i) % ACCOUNTS.length]!, { amount: 1 });
          accepted++;
        } catch {
          failed++;
        }
      }
    });
    try {
      for (let restart = 0; restart < RESTARTS; restart++) {
        const mark = accepted;
        await until(`${BETWEEN_RESTARTS} deposits accepted before restart ${restart + 1}`, () => accepted - mark >= BETWEEN_RESTARTS || accepted + failed >= MAX_DEPOSITS);
        await service.restart(150);
      }
      const mark = accepted;
      await until('deposits accepted after the last restart', () => accepted - mark >= BETWEEN_RESTARTS || accepted + failed >= MAX_DEPOSITS);
    } finally {
      stop = true;
      await Promise.all(lanes);
    }

    const store = new RedisStateStore({ client, domain: accounts.name });
    const applied = async () => {
      let sum = 0;
      for (let shard = 0; shard < SHARDS; shard++) {
        for (const state of (await store.load(shard, ACCOUNTS)).values()) sum += (state as Account).balance;
      }
      return sum;
    };
    const queued = async () => {
      let jobs = 0;
      for (let shard = 0; shard < SHARDS; shard++) {
        const keys = shardKeys('shardline', accounts.name, shard);
        jobs += (await client.llen(keys.wait)) + (await client.llen(keys.active));
      }
      return jobs;
    };
    await until('every queue drained', async () => (await queued()) === 0 && (await applied()) >= accepted, 60_000).catch(() => undefined);
    expect({ accepted, failed, applied: await applied(), queued: await queued() }).toEqual({ accepted, failed: 0, applied: accepted, queued: 0 });
    expect(consumer.process.exitCode).toBeNull();
  });
});
