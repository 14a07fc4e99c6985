import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { openRedis } from '../../src/common/redis.ts';
import { accounts } from '../../src/domains/accounts.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { RedisStateStore } from '../../src/state/redis-store.ts';
import { BullmqTransport, RedisReplyBus } from '../../src/transports/bullmq/index.ts';
import { startRedis, type RedisService } from '../support/redis.ts';

const redis = await startRedis();

describe.skipIf(redis === undefined)('messages on a producer’s reply channel that are not replies', () => {
  const service = redis as RedisService;
  const closers: (() => Promise<unknown>)[] = [];

  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await service.close();
  });

  it('are dropped and counted, and the replies after them still arrive', async () => {
    const client: Redis = await openRedis(service.url, 'test');
    closers.push(() => client.quit());
    const transport = new BullmqTransport({ url: service.url, domain: accounts.name, shards: 2, leaseTtlMs: 1_000 });
    const owner = new Owner({ domain: accounts, transport, store: new RedisStateStore({ client, domain: accounts.name }), replies: new RedisReplyBus({ client }) });
    const replies = new RedisReplyBus({ client });
    const producer = new Producer({ domain: accounts, transport, replies, requestTimeoutMs: 10_000 });
    closers.push(() => transport.close(), () => owner.close(), () => producer.close());
    await owner.start();
    await expect(producer.request('open', 'p', { initialBalance: 1 })).resolves.toEqual({ balance: 1 });

    const [channel, ...others] = (await client.pubsub('CHANNELS', 'shardline:replies:*')) as string[];
    expect(others).toEqual([]);
    const junk = [
      'not JSON',
      '{"id":"x","ok":true}',
      '[1, "two", null]',
      '[{"id":5,"ok":true}]',
      '[{"id":"y","ok":"yes"}]',
      '[{"id":"z","ok":false}]',
      '[{"id":"w","ok":false,"rejected":"no reason object"}]',
      // Deeper than JSON.stringify can recurse: describing it must not throw in the listener.
      `[${'['.repeat(10_000)}${']'.repeat(10_000)}]`,
    ];
    for (const text of junk) expect(await client.publish(channel!, text)).toBe(1);
    await expect(producer.request('deposit', 'p', { amount: 2 })).resolves.toEqual({ balance: 3 });
    await expect(producer.request('withdraw', 'p', { amount: 10 })).rejects.toMatchObject({ code: 'REJECTED', reason: 'insufficient funds' });
    expect(replies.dropped).toBe(junk.length + 2);
  });
});
