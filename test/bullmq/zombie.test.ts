import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { accounts } from '../../src/domains/accounts.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { openRedis } from '../../src/common/redis.ts';
import { RedisStateStore } from '../../src/state/redis-store.ts';
import { BullmqTransport, RedisReplyBus } from '../../src/transports/bullmq/index.ts';
import { fixtureProcesses, type Child } from '../support/processes.ts';
import { startRedis, type RedisService } from '../support/redis.ts';

const { startChild } = fixtureProcesses(new URL('./fixtures/', import.meta.url));

const redis = await startRedis();

describe.skipIf(redis === undefined)('a zombie owner (SIGSTOP past its lease, then SIGCONT)', () => {
  const service = redis as RedisService;
  const env = { REDIS_URL: service.url, SHARDS: '1', LEASE_TTL_MS: '600' };
  const children: Child[] = [];
  const closers: (() => Promise<unknown>)[] = [];

  afterAll(async () => {
    for (const child of children) child.process.kill('SIGCONT');
    await Promise.all(children.map((child) => child.kill()));
    for (const close of closers.reverse()) await close();
    await service.close();
  });

  it('has its commit refused, and the state shows only the new owner’s writes', async () => {
    const client: Redis = await openRedis(service.url, 'test');
    closers.push(() => client.quit());
    const transport = new BullmqTransport({ url: service.url, domain: accounts.name, shards: 1 });
    const producer = new Producer({ domain: accounts, transport, replies: new RedisReplyBus({ client }), requestTimeoutMs: 20_000 });
    closers.push(() => transport.close(), () => producer.close());

    const zombie = startChild('consumer', { ...env, COMMIT_DELAY_MS: '300' });
    children.push(zombie);
    await zombie.next((m) => m.type === 'ready');
    await producer.request('open', 'z', { initialBalance: 100 });
    const gained = await zombie.next((m) => m.type === 'ownership' && m.event === 'gained');

    // The zombie is stopped inside its commit of this deposit: it has applied it and is about to write.
    const openCommit = await zombie.next((m) => m.type === 'committing');
    const firstReply = producer.request('deposit', 'z', { amount: 1 });
    await zombie.next((m) => m.type === 'committing' && m !== openCommit);
    zombie.process.kill('SIGSTOP');

    const successor = startChild('consumer', env);
    children.push(successor);
    const taken = await successor.next((m) => m.type === 'ownership' && m.event === 'gained');
    expect(taken.epoch as number).toBeGreaterThan(gained.epoch as number);
    await expect(firstReply).resolves.toEqual({ balance: 101 });
    for (let i = 0; i < 5; i++) await producer.request('deposit', 'z', { amount: 10 });

    zombie.process.kill('SIGCONT');
    await zombie.next((m) => m.type === 'stale');

    const store = new RedisStateStore({ client, domain: accounts.name });
    expect(await store.load(0, ['z'])).toEqual(new Map([['z', { open: true, balance: 151 }]]));
    expect((await store.status(0)).epoch).toBe(taken.epoch);
    expect(await producer.request('deposit', 'z', { amount: 1 })).toEqual({ balance: 152 });
  });
});
