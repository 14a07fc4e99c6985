import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { accounts, type Account } from '../../src/domains/accounts.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { openRedis } from '../../src/common/redis.ts';
import { RedisDeadLetterQueue } from '../../src/state/redis-dead-letters.ts';
import { RedisStateStore } from '../../src/state/redis-store.ts';
import { BullmqTransport } from '../../src/transports/bullmq/index.ts';
import { shardKeys } from '../../src/transports/bullmq/keys.ts';
import { TransportScripts } from '../../src/transports/bullmq/scripts.ts';
import { until } from '../support/processes.ts';
import { startRedis, type RedisService } from '../support/redis.ts';

const redis = await startRedis();
const DOMAIN = 'halfway';

describe.skipIf(redis === undefined)('a fetch that fails half-way or is sent twice', () => {
  const service = redis as RedisService;
  const closers: (() => Promise<unknown>)[] = [];

  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await service.close();
  });

  it('delivers the valid jobs taken before it, dead-letters it, and applies what follows', async () => {
    const client: Redis = await openRedis(service.url, 'test');
    closers.push(() => client.quit());
    const keys = shardKeys('shardline', DOMAIN, 0);
    const producerTransport = new BullmqTransport({ url: service.url, domain: DOMAIN, shards: 1 });
    const producer = new Producer({ domain: accounts, transport: producerTransport });
    closers.push(() => producerTransport.close(), () => producer.close());

    // An `open` and a `deposit` the producer saw accepted, then a job with no name whose
    // data is not JSON (another program wrote it), then one more deposit.
    await producer.send('open', 'h', { initialBalance: 10 });
    await producer.send('deposit', 'h', { amount: 5 });
    await client.hset(`${keys.jobPrefix}junk`, { data: 'not JSON at all' });
    await client.lpush(keys.wait, 'junk');
    await producer.send('deposit', 'h', { amount: 7 });

    const store = new RedisStateStore({ client, domain: DOMAIN });
    const ownerTransport = new BullmqTransport({ url: service.url, domain: DOMAIN, shards: 1, leaseTtlMs: 1_000 });
    const owner = new Owner({ domain: accounts, transport: ownerTransport, store });
    closers.push(() => ownerTransport.close(), () => owner.close());
    await owner.start();

    const balance = async () => ((await store.load(0, ['h'])).get('h') as Account | undefined)?.balance;
    await until('all three accepted commands applied', async () => (await balance()) === 22, 15_000).catch(() => undefined);
    expect({ balance: await balance(), active: await client.llen(keys.active), waiting: await client.llen(keys.wait) }).toEqual({ balance: 22, active: 0, waiting: 0 });
    const letters = await new RedisDeadLetterQueue({ client, domain: DOMAIN }).list();
    expect(letters).toEqual([expect.objectContaining({ shard: 0, position: 2, value: 'not JSON at all', error: expect.stringMatching(/^foreign: .*not JSON/) })]);
    expect(await ownerTransport.depth(0)).toBe(0);
  });

  /**
   * One shard of `domain` holding one single-command job per value, and this test playing
   * its owner: it holds the lease the scripts are fenced by. `take` returns the jobs and
   * remembers how many still wait; `values` reads each job as [first position, value].
   */
  async function ownerOf(domain: string, values: number) {
    const client: Redis = await openRedis(service.url, 'test');
    closers.push(() => client.quit());
    const keys = shardKeys('shardline', domain, 0);
    const transport = new BullmqTransport({ url: service.url, domain, shards: 1 });
    closers.push(() => transport.close());
    for (let i = 0; i < values; i++) await transport.enqueue(0, [{ key: 'k', value: `v${i}` }], { overflow: 'block', timeoutMs: 5_000, reserve: 0 });
    await client.set(keys.lease, 'test-member:1');
    const scripts = new TransportScripts(client);
    const limits = { maxJobBytes: 1 << 20, reservationTtlMs: 60_000 };
    const owner = {
      client,
      keys,
      transport,
      waiting: -1,
      async take(acknowledged: string[], most = 2, holding: string[] = []) {
        const taken = await scripts.take(keys, 'test-member:1', most, acknowledged, holding, limits);
        if (taken === 'lost') throw new Error('lease lost');
        owner.waiting = taken.waiting;
        return taken.jobs;
      },
      lostTo: (member: string) => scripts.take(keys, member, 8, [], [], limits),
    };
    return owner;
  }

  const values = (jobs: { first: number; data: string }[]) => jobs.map((job) => [job.first, (JSON.parse(job.data) as { m: string[][] }).m[0]![1]]);
  const ids = (jobs: { id: string }[]) => jobs.map((job) => job.id);

  it('returns, when repeated after a lost reply, the jobs the first run took, at the same positions, freeing nothing twice', async () => {
    const { take, transport, lostTo } = await ownerOf('replayed', 5);
    const first = await take([]);
    expect(values(first)).toEqual([[0, 'v0'], [1, 'v1']]);
    expect(values(await take([]))).toEqual([[0, 'v0'], [1, 'v1']]);
    const next = await take(ids(first));
    expect(values(next)).toEqual([[2, 'v2'], [3, 'v3']]);
    expect(await transport.depth(0)).toBe(3);
    // The same acknowledgement again (its reply was lost): v0 and v1 are not freed twice.
    expect(values(await take(ids(first)))).toEqual([[2, 'v2'], [3, 'v3']]);
    expect(await transport.depth(0)).toBe(3);
    expect(values(await take(ids(next), 8))).toEqual([[4, 'v4']]);
    expect(await transport.depth(0)).toBe(1);
    expect(await lostTo('another-member:2')).toBe('lost');
  });

  it('passes over exactly the jobs the owner holds, even when another program removed one of them', async () => {
    const owner = await ownerOf('holding', 6);
    const { take, client, keys, transport } = owner;
    const first = await take([]);
    expect(owner.waiting).toBe(4);
    // Taken ahead while the first two are delivered, and again when that reply was lost.
    const ahead = await take([], 2, ids(first));
    expect({ taken: values(ahead), waiting: owner.waiting }).toEqual({ taken: [[2, 'v2'], [3, 'v3']], waiting: 2 });
    expect(values(await take([], 2, ids(first)))).toEqual([[2, 'v2'], [3, 'v3']]);
    // An owner that holds nothing (the next one, after a crash) gets every unacknowledged job, oldest first.
    expect(values(await take([], 8))).toEqual([[0, 'v0'], [1, 'v1'], [2, 'v2'], [3, 'v3'], [4, 'v4'], [5, 'v5']]);
    await take([], 0);
    // Another program removed v2 from the active list: holding v2 and v3 passes over v3 alone.
    await client.lrem(keys.active, 1, ids(ahead)[0]!);
    expect(values(await take(ids(first), 8, ids(ahead)))).toEqual([[4, 'v4'], [5, 'v5']]);
    expect(await transport.depth(0)).toBe(4);
  });
});
