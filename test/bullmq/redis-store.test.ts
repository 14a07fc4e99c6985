import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutgoingCommand } from '../../src/core/command.ts';
import { openRedis } from '../../src/common/redis.ts';
import { RedisStateStore } from '../../src/state/redis-store.ts';
import { BullmqTransport, RedisReplyBus } from '../../src/transports/bullmq/index.ts';
import { startRedis, type RedisService } from '../support/redis.ts';

const redis = await startRedis();

describe.skipIf(redis === undefined)('redis state store, reply bus and connection errors', () => {
  const service = redis as RedisService;
  let client: Redis;

  beforeAll(async () => {
    client = await openRedis(service.url, 'test');
  });

  afterAll(async () => {
    await client?.quit();
    await service.close();
  });

  it('issues a greater epoch on every claim and refuses commits of any other epoch, dead letters included', async () => {
    const store = new RedisStateStore({ client, domain: 'fencing', dedupeWindow: 3 });
    const first = await store.claim(2, 0);
    expect(first).toEqual({ epoch: 1, position: -1, recentIds: [], marks: new Map(), outbox: [] });
    await store.commit(2, {
      epoch: 1,
      position: 7,
      changes: new Map([['a', { n: 1 }]]),
      appliedIds: ['i1', 'i2'],
      marks: new Map([['p1', 4], ['p2', 9]]),
      forgottenMarks: [],
      outbox: [new OutgoingCommand({ id: 'f1', type: 'credit', key: 'b', payload: { amount: 1 }, sentAt: 5 })],
      deadLetters: [{ shard: 2, position: 6, value: 'junk', error: 'decode: not JSON', attempts: 0, failedAt: 1 }],
    });

    const second = await store.claim(2, 40);
    expect(second).toEqual({ epoch: 40, position: 7, recentIds: ['i1', 'i2'], marks: new Map([['p1', 4], ['p2', 9]]),
      outbox: [{ key: 'b', value: '{"id":"f1","type":"credit","key":"b","payload":{"amount":1},"sentAt":5}' }],
    });
    const nothing = { marks: new Map<string, number>(), forgottenMarks: [], outbox: [], deadLetters: [] };
    await expect(
      store.commit(2, { ...nothing, epoch: 1, position: 9, changes: new Map([['a', { n: 99 }]]), appliedIds: ['zombie'] }),
    ).rejects.toMatchObject({ code: 'STALE_EPOCH', epoch: 1, currentEpoch: 40 });
    expect(await store.deadLetters.list()).toEqual([{ shard: 2, position: 6, value: 'junk', error: 'decode: not JSON', attempts: 0, failedAt: 1 }]);
    expect(await store.deadLetters.count()).toBe(1);

    await store.commit(2, { ...nothing, epoch: 40, position: 9, changes: new Map([['c', { n: 3 }]]), appliedIds: ['i3', 'i4'], marks: new Map([['p1', 6]]), forgottenMarks: ['p2'] });
    expect(await store.claim(2, 0)).toEqual({ epoch: 41, position: 9, recentIds: ['i2', 'i3', 'i4'], marks: new Map([['p1', 6]]), outbox: [] });
    expect(await store.load(2, ['a', 'c', 'missing'])).toEqual(new Map([['a', { n: 1 }], ['c', { n: 3 }]]));
    expect(await store.status(2)).toEqual({ epoch: 41, position: 9 });
    const all = new Map<string, unknown>();
    for await (const [key, state] of store.entries()) all.set(key, state);
    expect(all).toEqual(new Map([['a', { n: 1 }], ['c', { n: 3 }]]));
  });

  it('delivers replies to the listening producer and drops those for a gone one', async () => {
    const bus = new RedisReplyBus({ client });
    const got: unknown[] = [];
    const address = await bus.listen((replies) => got.push(...replies));
    const gone = new RedisReplyBus({ client });
    const goneAddress = await gone.listen(() => undefined);
    await gone.close();

    await bus.publish(goneAddress, [{ id: 'lost', ok: true, value: 1 }]);
    await bus.publish(address, [{ id: 'r1', ok: true, value: { balance: 5 } }]);
    const deadline = Date.now() + 5_000;
    while (got.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(got).toEqual([{ id: 'r1', ok: true, value: { balance: 5 } }]);
    await bus.close();
  });

  it('names the URL when Redis is unreachable', async () => {
    const transport = new BullmqTransport({ url: 'redis://127.0.0.1:1', domain: 'nowhere' });
    await expect(transport.connect()).rejects.toMatchObject({ code: 'CONNECTION', message: expect.stringContaining('redis://127.0.0.1:1') });
    await transport.close();
  });

  it('reports every wrong option at once', () => {
    expect(() => new BullmqTransport({ domain: 'a:b', shards: 0, leaseTtlMs: 5 } as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG', issues: expect.arrayContaining([expect.stringContaining('bullmq.domain'), expect.stringContaining('bullmq.shards'), expect.stringContaining('bullmq.leaseTtlMs')]) }),
    );
  });
});
