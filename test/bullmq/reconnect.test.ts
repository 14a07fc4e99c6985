import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { accounts } from '../../src/domains/accounts.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { openRedis } from '../../src/common/redis.ts';
import { RedisStateStore } from '../../src/state/redis-store.ts';
import { BullmqTransport, RedisReplyBus } from '../../src/transports/bullmq/index.ts';
import { until } from '../support/processes.ts';
import { startRedis, type RedisService } from '../support/redis.ts';

const redis = await startRedis({ durable: true });

describe.skipIf(redis === undefined)('a Redis restart under load', () => {
  const service = redis as RedisService;
  const closers: (() => Promise<unknown>)[] = [];

  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await service.close();
  });

  it('loses no command sent while Redis was down', async () => {
    const client: Redis = await openRedis(service.url, 'test');
    const store = new RedisStateStore({ client, domain: accounts.name });
    const ownerTransport = new BullmqTransport({ url: service.url, domain: accounts.name, shards: 2, leaseTtlMs: 3_000 });
    const producerTransport = new BullmqTransport({ url: service.url, domain: accounts.name, shards: 2 });
    const owner = new Owner({ domain: accounts, transport: ownerTransport, store, replies: new RedisReplyBus({ client }) });
    const producer = new Producer({ domain: accounts, transport: producerTransport, replies: new RedisReplyBus({ client }) });
    closers.push(() => client.quit(), () => ownerTransport.close(), () => producerTransport.close(), () => owner.close(), () => producer.close());
    await owner.start();
    await Promise.all(['r0', 'r1', 'r2'].map((key) => producer.request('open', key, {})));

    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 300; i++) {
      sends.push(producer.send('deposit', `r${i % 3}`, { amount: 1 }));
      if (i === 150) await service.restart(200);
      else if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await Promise.all(sends);

    const balances = async () => [...(await store.load(0, ['r0', 'r1', 'r2'])).values(), ...(await store.load(1, ['r0', 'r1', 'r2'])).values()];
    await until('every deposit to be applied', async () => (await balances()).every((a) => (a as { balance: number }).balance === 100), 30_000).catch(() => undefined);
    expect(await balances()).toEqual([{ open: true, balance: 100 }, { open: true, balance: 100 }, { open: true, balance: 100 }]);
  });
});
