import { afterAll, describe, expect, it } from 'vitest';
import { accounts } from '../../src/domains/accounts.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { BullmqTransport } from '../../src/transports/bullmq/index.ts';
import { startRedis, type RedisService } from '../support/redis.ts';

const redis = await startRedis();

describe.skipIf(redis === undefined)('the backpressure wait a BullMQ enqueue reports', () => {
  const service = redis as RedisService;
  const closers: (() => Promise<unknown>)[] = [];

  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await service.close();
  });

  it('is 0 when there was room at once, so the histogram counts only enqueues that waited', async () => {
    const transport = new BullmqTransport({ url: service.url, domain: 'roomy', shards: 2 });
    const waits: number[] = [];
    const producer = new Producer({ domain: accounts, transport, observer: { backpressureWait: (seconds) => waits.push(seconds) } });
    closers.push(() => transport.close(), () => producer.close());
    const results = [];
    for (let i = 0; i < 20; i++) results.push(await transport.enqueue(i % 2, [{ key: `k${i}`, value: `v${i}` }], { overflow: 'block', timeoutMs: 5_000, reserve: 0 }));
    expect(results.map((r) => r.waitedMs)).toEqual(Array.from({ length: 20 }, () => 0));
    for (let i = 0; i < 50; i++) await producer.send('deposit', `a${i}`, { amount: 1 });
    expect(waits).toEqual([]);
  });

  it('is the time spent waiting for room when the shard was full', async () => {
    const transport = new BullmqTransport({ url: service.url, domain: 'full', shards: 1, capacity: 2, leaseTtlMs: 600 });
    closers.push(() => transport.close());
    const message = (i: number) => [{ key: `k${i}`, value: `v${i}` }];
    await transport.enqueue(0, message(0), { overflow: 'block', timeoutMs: 5_000, reserve: 0 });
    await transport.enqueue(0, message(1), { overflow: 'block', timeoutMs: 5_000, reserve: 0 });
    const started = performance.now();
    const blocked = transport.enqueue(0, message(2), { overflow: 'block', timeoutMs: 20_000, reserve: 0 });
    const owner = new Owner({ domain: accounts, transport });
    closers.push(() => owner.close());
    await owner.start();
    const { waitedMs } = await blocked;
    expect(waitedMs).toBeGreaterThan(0);
    expect(waitedMs).toBeLessThanOrEqual(performance.now() - started + 1);
  });

  it('ends when the owner frees room, not at the next poll', async () => {
    // Polls 1, 2, 4, ... ms apart: after 2.5 s full, the next poll is seconds away.
    const transport = new BullmqTransport({ url: service.url, domain: 'woken', shards: 1, capacity: 2, leaseTtlMs: 600, blockPollMs: 60_000 });
    closers.push(() => transport.close());
    const message = (i: number) => [{ key: `k${i}`, value: `v${i}` }];
    await transport.enqueue(0, message(0), { overflow: 'block', timeoutMs: 5_000, reserve: 0 });
    await transport.enqueue(0, message(1), { overflow: 'block', timeoutMs: 5_000, reserve: 0 });
    let enqueuedAt = 0;
    const blocked = transport.enqueue(0, message(2), { overflow: 'block', timeoutMs: 60_000, reserve: 0 }).then((result) => {
      enqueuedAt = performance.now();
      return result;
    });
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    let appliedAt = 0;
    const owner = new Owner({ domain: accounts, transport, observer: { batch: () => void (appliedAt ||= performance.now()) } });
    closers.push(() => owner.close());
    await owner.start();
    const { waitedMs } = await blocked;
    expect(waitedMs).toBeGreaterThan(2_500);
    // The first batch's acknowledgement (the owner's next take) frees the room and says so.
    expect(enqueuedAt - appliedAt).toBeLessThan(1_000);
  });
});
