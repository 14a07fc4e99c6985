/**
 * One blocking connection wakes every idle shard owner of a process. BZPOPMIN returns one
 * key per call, the first non-empty one in argument order: under load the first shard's
 * marker is set again before every call, and without draining the others a later shard was
 * woken only by its idle poll (1 s): p99 of every BullMQ open-loop and per-command bench
 * row sat at ~1 s.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRedis } from '../../src/common/redis.ts';
import { Signal } from '../../src/transports/bullmq/signal.ts';
import { Wakeups } from '../../src/transports/bullmq/wakeups.ts';
import { startRedis, type RedisService } from '../support/redis.ts';

const redis = await startRedis();

describe.skipIf(redis === undefined)('wake-ups', () => {
  const service = redis as RedisService;
  let client: Redis;

  beforeAll(async () => {
    client = await openRedis(service.url, 'test');
  });

  afterAll(async () => {
    await client?.quit();
    await service.close();
  });

  it("wakes a shard whose marker fired while an earlier shard's marker never empties", async () => {
    const busy = 'test:busy:marker';
    const quiet = 'test:quiet:marker';
    // 5,000 markers on the busy shard stand for a producer re-setting it before every wait.
    const members = Array.from({ length: 5_000 }, (_, i) => [0, `m${i}`]).flat();
    await client.zadd(busy, ...(members as [number, string]));
    const wakeups = new Wakeups(await openRedis(service.url, 'wakeups'));
    try {
      const busySignal = new Signal();
      const quietSignal = new Signal();
      wakeups.watch(busy, busySignal);
      wakeups.watch(quiet, quietSignal);
      await client.zadd(quiet, 0, '0');
      await quietSignal.wait(60_000);
      // Woken by its own marker, not by the busy shard's being worked through first.
      expect(await client.zcard(quiet)).toBe(0);
      expect(await client.zcard(busy)).toBeGreaterThan(4_000);
    } finally {
      await wakeups.close();
      await client.del(busy, quiet);
    }
  });
});
