import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { openRedis } from '../../src/common/redis.ts';
import { accounts } from '../../src/domains/accounts.ts';
import { BullmqTransport } from '../../src/transports/bullmq/index.ts';
import { membersKey, shardKeys } from '../../src/transports/bullmq/keys.ts';
import { fixtureProcesses, type Child } from '../support/processes.ts';
import { startRedis, type RedisService } from '../support/redis.ts';

const { startChild, until } = fixtureProcesses(new URL('./fixtures/', import.meta.url));

const redis = await startRedis();
/** Members are random ids: with 16 shards one of two consumers owns none about once in 30,000 runs. */
const SHARDS = 16;

describe.skipIf(redis === undefined)('who owns each shard, as the BullMQ transport reports it', () => {
  const service = redis as RedisService;
  const children: Child[] = [];
  const closers: (() => Promise<unknown>)[] = [];

  afterAll(async () => {
    await Promise.all(children.map((child) => child.kill()));
    for (const close of closers.reverse()) await close();
    await service.close();
  });

  it('names one of the two consumers for every shard, with its host, pid, epoch and since when, and takes nothing', async () => {
    const client: Redis = await openRedis(service.url, 'test');
    closers.push(() => client.quit());
    const env = { REDIS_URL: service.url, SHARDS: String(SHARDS), LEASE_TTL_MS: '1000' };
    const consumers = [startChild('consumer', env), startChild('consumer', env)];
    children.push(...consumers);
    const ready = await Promise.all(consumers.map((c) => c.next((m) => m.type === 'ready')));
    const pids = new Map(ready.map((m, i) => [m.member as string, consumers[i]!.process.pid!]));
    const started = Date.now();

    const transport = new BullmqTransport({ url: service.url, domain: accounts.name, shards: SHARDS });
    closers.push(() => transport.close());
    await transport.connect();
    const everyShardHeld = async () => {
      const leases = await Promise.all(Array.from({ length: SHARDS }, (_, s) => client.get(shardKeys('shardline', accounts.name, s).lease)));
      return leases.every((lease) => lease !== null) && new Set(leases.map((lease) => lease!.split(':')[0])).size === 2;
    };
    await until('both consumers to hold shards and every shard to be held', everyShardHeld);
    const ttls = await Promise.all(Array.from({ length: SHARDS }, (_, s) => client.pttl(shardKeys('shardline', accounts.name, s).lease)));

    const owners = await transport.owners!();
    expect(owners).toHaveLength(SHARDS);
    const leases = await Promise.all(Array.from({ length: SHARDS }, (_, s) => client.get(shardKeys('shardline', accounts.name, s).lease)));
    owners.forEach((owner, shard) => {
      const [member, epoch] = leases[shard]!.split(':');
      expect(owner, `shard ${shard}`).toEqual({ member, host: hostname(), pid: pids.get(member!), epoch: Number(epoch), since: expect.any(Number) });
      expect(owner!.since).toBeGreaterThan(started - 60_000);
      expect(owner!.since).toBeLessThanOrEqual(Date.now());
    });
    expect(new Set(owners.map((owner) => owner!.member))).toEqual(new Set(pids.keys()));

    // Reading took nothing: no new member, and no lease renewed by the read.
    expect(await client.zcard(membersKey('shardline', accounts.name))).toBe(2);
    const after = await Promise.all(Array.from({ length: SHARDS }, (_, s) => client.pttl(shardKeys('shardline', accounts.name, s).lease)));
    expect(after.every((ttl, s) => ttl <= 1000 && ttl > 0 && ttls[s]! > 0)).toBe(true);
  });

  it('reports no owner for a shard whose lease is gone', async () => {
    await Promise.all(children.map((child) => child.kill()));
    const transport = new BullmqTransport({ url: service.url, domain: accounts.name, shards: SHARDS });
    closers.push(() => transport.close());
    await until('every lease to lapse', async () => (await transport.owners!()).every((owner) => owner === undefined), 10_000);
  });
});
