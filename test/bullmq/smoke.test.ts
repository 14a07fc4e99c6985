import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accounts } from '../../src/domains/accounts.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { openRedis } from '../../src/common/redis.ts';
import { RedisStateStore } from '../../src/state/redis-store.ts';
import { BullmqTransport, RedisReplyBus } from '../../src/transports/bullmq/index.ts';
import { startRedis, type RedisService } from '../support/redis.ts';

const redis = await startRedis();

describe.skipIf(redis === undefined)('bullmq smoke', () => {
  const service = redis as RedisService;
  afterAll(() => service.close());

  it('applies requests through an owner in the same process', async () => {
    const client = await openRedis(service.url, 'test');
    const store = new RedisStateStore({ client, domain: 'accounts' });
    const ownerTransport = new BullmqTransport({ url: service.url, domain: 'accounts', shards: 4, leaseTtlMs: 600 });
    const producerTransport = new BullmqTransport({ url: service.url, domain: 'accounts', shards: 4, leaseTtlMs: 600 });
    const owner = new Owner({ domain: accounts, transport: ownerTransport, store, replies: new RedisReplyBus({ client }) });
    const producer = new Producer({ domain: accounts, transport: producerTransport, replies: new RedisReplyBus({ client }) });
    await owner.start();
    try {
      await expect(producer.request('open', 'a', { initialBalance: 10 })).resolves.toEqual({ balance: 10 });
      for (let i = 0; i < 50; i++) await producer.send('deposit', 'a', { amount: 1 });
      await expect(producer.request('deposit', 'a', { amount: 1 })).resolves.toEqual({ balance: 61 });
    } finally {
      await producer.close();
      await owner.close();
      await producerTransport.close();
      await ownerTransport.close();
      await client.quit();
    }
  });
});
