// What `owners()` reports about a consumer that stops answering (SIGSTOP) for a while:
// it names the lease holder for as long as the lease is held, even once the member's own
// record has lapsed and been forgotten, and reports nobody only once the lease is gone.
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRedis } from '../../src/common/redis.ts';
import { accounts } from '../../src/domains/accounts.ts';
import { RedisStateStore } from '../../src/state/redis-store.ts';
import { BullmqTransport } from '../../src/transports/bullmq/index.ts';
import { memberInfoKey, membersKey, shardKeys } from '../../src/transports/bullmq/keys.ts';
import { TransportScripts } from '../../src/transports/bullmq/scripts.ts';
import { fixtureProcesses, type Child } from '../support/processes.ts';
import { startRedis, type RedisService } from '../support/redis.ts';

const { startChild, until } = fixtureProcesses(new URL('./fixtures/', import.meta.url));

const redis = await startRedis();
const SHARDS = 4;
const MEMBERS = membersKey('shardline', accounts.name);
const leaseKeys = Array.from({ length: SHARDS }, (_, shard) => shardKeys('shardline', accounts.name, shard).lease);

describe.skipIf(redis === undefined)('owners() while the only consumer is paused (SIGSTOP)', () => {
  const service = redis as RedisService;
  const children: Child[] = [];
  let client: Redis;
  let transport: BullmqTransport;

  beforeAll(async () => {
    client = await openRedis(service.url, 'test');
    transport = new BullmqTransport({ url: service.url, domain: accounts.name, shards: SHARDS });
  });

  afterAll(async () => {
    for (const child of children) child.process.kill('SIGCONT');
    await Promise.all(children.map((child) => child.kill()));
    await transport?.close();
    await client?.quit();
    await service.close();
  });

  /** Starts one consumer with `leaseTtlMs` and waits until it holds every shard; returns it and its member id. */
  async function consumerHoldingEveryShard(leaseTtlMs: number) {
    const consumer = startChild('consumer', { REDIS_URL: service.url, SHARDS: String(SHARDS), LEASE_TTL_MS: String(leaseTtlMs) });
    children.push(consumer);
    const member = (await consumer.next((m) => m.type === 'ready')).member as string;
    const heldByIt = async () => (await client.mget(...leaseKeys)).every((lease) => lease?.startsWith(`${member}:`));
    await until('the consumer to hold every shard', heldByIt);
    return { consumer, member };
  }

  it('names the lease holder, with the lease’s epoch, after its member record lapsed and a peer’s heartbeat forgot it', async () => {
    const { consumer, member } = await consumerHoldingEveryShard(10_000);

    consumer.process.kill('SIGSTOP');
    const leases = await client.mget(...leaseKeys);
    // The member's record ran out (as it does first: the heartbeat precedes the renewal in
    // each round), and another member's heartbeat forgot it and where it runs.
    await client.zadd(MEMBERS, 'XX', 0, member);
    expect(await new TransportScripts(client).heartbeat(MEMBERS, 'peer', 10_000, true)).toEqual([]);
    expect(await client.hexists(memberInfoKey(MEMBERS), member)).toBe(0);

    const owners = await transport.owners!();
    expect(await client.mget(...leaseKeys)).toEqual(leases);
    owners.forEach((owner, shard) => {
      expect(owner, `shard ${shard}`).toEqual({ member, epoch: Number(leases[shard]!.split(':')[1]), since: expect.any(Number) });
    });

    consumer.process.kill('SIGCONT');
    const pid = consumer.process.pid!;
    await until('the consumer’s heartbeat to say again where it runs', async () => (await transport.owners!()).every((owner) => owner?.pid === pid));
    expect((await transport.owners!()).map((owner) => [owner?.member, owner?.host, owner?.epoch])).toEqual(
      leases.map((lease) => [member, hostname(), Number(lease!.split(':')[1])]),
    );
    // Gone without a word: clear what it holds, so the next test's consumer needn't wait out 10 s.
    await consumer.kill();
    await client.del(...leaseKeys);
    await client.zrem(MEMBERS, member);
  });

  it('reports nobody only once a pause outlasted the lease, and the shards come back under new epochs', async () => {
    const { consumer, member } = await consumerHoldingEveryShard(1_000);
    const before = (await transport.owners!()).map((owner) => owner!.epoch);

    consumer.process.kill('SIGSTOP');
    await until('every shard to be reported with no owner', async () => (await transport.owners!()).every((owner) => owner === undefined), 10_000);
    expect(await client.exists(...leaseKeys)).toBe(0);

    consumer.process.kill('SIGCONT');
    await until('the consumer to hold every shard again', async () => (await transport.owners!()).every((owner) => owner?.member === member), 10_000);
    const after = (await transport.owners!()).map((owner) => owner!.epoch);
    after.forEach((epoch, shard) => expect(epoch, `shard ${shard}`).toBeGreaterThan(before[shard]!));
    // The epochs the dashboard shows (the state store's) move with them once the new grants are claimed.
    const store = new RedisStateStore({ client, domain: accounts.name });
    const claimed = async () => (await Promise.all(after.map(async (epoch, shard) => (await store.status(shard)).epoch === epoch))).every(Boolean);
    await until('the store to be claimed under the new epochs', claimed);
  });
});
