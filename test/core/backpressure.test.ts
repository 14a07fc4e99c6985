import { describe, expect, it } from 'vitest';
import { QueueFullError, ShardlineError, TimeoutError } from '../../src/core/errors.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';
import { waitFor } from '../../src/testing/recording-handler.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import { closedAfterEach, counters, entries, keysOnShard, processOn, quiesce, RecordingObserver, totalDepth } from './helpers.ts';

const closers = closedAfterEach();

async function sum(store: MemoryStateStore): Promise<number> {
  let total = 0;
  for (const [, state] of await entries<{ value: number }>(store)) total += state.value;
  return total;
}

describe('a full shard makes block producers wait, never holding more than its capacity', () => {
  it('many concurrent producers: capacity never exceeded, blocked producers resume once an owner drains, every command applied once', async () => {
    const SHARDS = 2;
    const CAPACITY = 8;
    const broker = MemoryTransport.broker({ shards: SHARDS, capacity: CAPACITY, maxBatch: 4 });
    const observer = new RecordingObserver();
    const keys = [...keysOnShard(0, SHARDS, 3, 'c-'), ...keysOnShard(1, SHARDS, 3, 'c-')];
    const PRODUCERS = 12;
    const PER_PRODUCER = 40;
    let resolved = 0;

    const tasks = Array.from({ length: PRODUCERS }, async (_, p) => {
      const producer = new Producer({ domain: counters, transport: processOn(broker, closers), observer, enqueueTimeoutMs: 20_000 });
      closers.push(() => producer.close());
      const send = (i: number) => producer.send('add', keys[(p + i) % keys.length]!, { by: 1 }).then(() => resolved++);
      if (p % 2 === 0) {
        // One command at a time.
        for (let i = 0; i < PER_PRODUCER; i++) await send(i);
      } else {
        // Everything at once: the producer's lanes batch what waits.
        await Promise.all(Array.from({ length: PER_PRODUCER }, (_, i) => send(i)));
      }
    });

    // No owner yet: both shards fill up and the producers stall. (How full exactly depends on
    // how the waiting batches fit; the bound is what matters.)
    const monitor = processOn(broker, closers);
    let last = '';
    let stablePolls = 0;
    await waitFor(
      'both shards filled and every producer stalled',
      async () => {
        const now = `${await monitor.depth(0)}/${await monitor.depth(1)}/${resolved}`;
        stablePolls = now === last ? stablePolls + 1 : 0;
        last = now;
        return stablePolls >= 3 && (await monitor.depth(0)) > 0 && (await monitor.depth(1)) > 0;
      },
      10_000,
    );
    const resolvedWhileFull = resolved;
    expect(resolvedWhileFull).toBeLessThan(PRODUCERS * PER_PRODUCER);
    for (let shard = 0; shard < SHARDS; shard++) expect(await monitor.depth(shard)).toBeLessThanOrEqual(CAPACITY);

    const store = new MemoryStateStore();
    const owner = new Owner({ domain: counters, transport: processOn(broker, closers), store });
    closers.push(() => owner.close());
    await owner.start();
    await Promise.all(tasks);
    expect(resolved).toBe(PRODUCERS * PER_PRODUCER);
    await quiesce(monitor, SHARDS);

    expect(await sum(store)).toBe(PRODUCERS * PER_PRODUCER);
    for (let shard = 0; shard < SHARDS; shard++) {
      expect(monitor.highWater(shard)).toBeLessThanOrEqual(CAPACITY);
      expect(monitor.highWater(shard)).toBeGreaterThan(CAPACITY / 2);
    }
    // The waiting was measured and reported through the observer hook, in seconds.
    expect(observer.waits.length).toBeGreaterThan(0);
    for (const seconds of observer.waits) {
      expect(seconds).toBeGreaterThan(0);
      expect(Number.isFinite(seconds)).toBe(true);
    }
    expect(observer.refused).toEqual([]);
  });

  it('a sendMany larger than the capacity is split, waits for room, and is applied whole', async () => {
    const broker = MemoryTransport.broker({ shards: 1, capacity: 8, maxBatch: 3 });
    const transport = processOn(broker, closers);
    const producer = new Producer({ domain: counters, transport });
    const store = new MemoryStateStore();
    const owner = new Owner({ domain: counters, transport: processOn(broker, closers), store });
    closers.push(() => producer.close(), () => owner.close());
    await owner.start();
    const outcomes = await producer.sendMany(Array.from({ length: 100 }, (_, i) => ({ type: 'add' as const, key: `k${i % 5}`, payload: { by: 1 } })));
    expect(outcomes.every((o) => o.ok)).toBe(true);
    await quiesce(transport, 1);
    expect(await sum(store)).toBe(100);
    expect(transport.highWater(0)).toBeLessThanOrEqual(8);
  });
});

describe('reject: a full shard fails fast with QueueFullError', () => {
  it('refuses once the shard holds capacity minus the reserve, with code, shard and capacity; the accepted ones are applied', async () => {
    const broker = MemoryTransport.broker({ shards: 1, capacity: 16 });
    const observer = new RecordingObserver();
    const producer = new Producer({ domain: counters, transport: processOn(broker, closers), overflow: 'reject', observer });
    closers.push(() => producer.close());
    let accepted = 0;
    let refusal: unknown;
    for (let i = 0; i < 100 && refusal === undefined; i++) {
      try {
        await producer.send('add', 'hot', { by: 1 });
        accepted++;
      } catch (error) {
        refusal = error;
      }
    }
    expect(accepted).toBe(16 - 2);
    expect(refusal).toBeInstanceOf(QueueFullError);
    expect(refusal).toBeInstanceOf(ShardlineError);
    expect(refusal).toMatchObject({ code: 'QUEUE_FULL', retriable: true, shard: 0, capacity: 16 });
    expect(observer.refused).toEqual([{ shard: 0, reason: 'full' }]);
    const monitor = processOn(broker, closers);
    expect(await monitor.depth(0)).toBe(accepted);

    const store = new MemoryStateStore();
    const owner = new Owner({ domain: counters, transport: processOn(broker, closers), store });
    closers.push(() => owner.close());
    await owner.start();
    await quiesce(monitor, 1);
    expect(await sum(store)).toBe(accepted);
  });

  it('concurrent reject producers: exactly what fits is accepted, every other send gets QueueFullError, nothing else', async () => {
    const CAPACITY = 10;
    const broker = MemoryTransport.broker({ shards: 1, capacity: CAPACITY });
    const producers = Array.from({ length: 6 }, () => {
      const producer = new Producer({ domain: counters, transport: processOn(broker, closers), overflow: 'reject', followUpReserve: 0 });
      closers.push(() => producer.close());
      return producer;
    });
    const results = await Promise.allSettled(producers.flatMap((producer) => Array.from({ length: 8 }, () => producer.send('add', 'hot', { by: 1 }))));
    const fulfilled = results.filter((r) => r.status === 'fulfilled').length;
    const reasons = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    expect(fulfilled).toBeLessThanOrEqual(CAPACITY);
    expect(fulfilled).toBeGreaterThan(0);
    for (const reason of reasons) expect(reason).toBeInstanceOf(QueueFullError);
    const monitor = processOn(broker, closers);
    expect(await monitor.depth(0)).toBe(fulfilled);
    expect(monitor.highWater(0)).toBeLessThanOrEqual(CAPACITY);

    const store = new MemoryStateStore();
    const owner = new Owner({ domain: counters, transport: processOn(broker, closers), store });
    closers.push(() => owner.close());
    await owner.start();
    await quiesce(monitor, 1);
    expect(await sum(store)).toBe(fulfilled);
  });
});

describe('reject with sendMany', () => {
  it('the commands of a full shard are refused at their indexes, those of other shards are enqueued and applied', async () => {
    const SHARDS = 2;
    const broker = MemoryTransport.broker({ shards: SHARDS, capacity: 4 });
    const producer = new Producer({ domain: counters, transport: processOn(broker, closers), overflow: 'reject', followUpReserve: 0 });
    closers.push(() => producer.close());
    const [full] = keysOnShard(0, SHARDS, 1, 'full-');
    const [free] = keysOnShard(1, SHARDS, 1, 'free-');
    for (let i = 0; i < 4; i++) await producer.send('add', full!, { by: 1 });
    const outcomes = await producer.sendMany([
      { type: 'add', key: free!, payload: { by: 10 } },
      { type: 'add', key: full!, payload: { by: 100 } },
      { type: 'add', key: free!, payload: { by: 10 } },
    ]);
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, true]);
    const refused = outcomes[1]!;
    expect(refused.ok ? undefined : refused.error).toBeInstanceOf(QueueFullError);

    const store = new MemoryStateStore();
    const owner = new Owner({ domain: counters, transport: processOn(broker, closers), store });
    closers.push(() => owner.close());
    await owner.start();
    await quiesce(processOn(broker, closers), SHARDS);
    const state = await entries<{ value: number }>(store);
    expect(state.get(full!)).toEqual({ value: 4 });
    expect(state.get(free!)).toEqual({ value: 20 });
  });
});

describe('block: a wait past enqueueTimeoutMs fails with TimeoutError', () => {
  it('times out with code, operation and limit; nothing of it is enqueued or applied', async () => {
    const broker = MemoryTransport.broker({ shards: 1, capacity: 4 });
    const observer = new RecordingObserver();
    const producer = new Producer({ domain: counters, transport: processOn(broker, closers), enqueueTimeoutMs: 100, observer });
    closers.push(() => producer.close());
    for (let i = 0; i < 4; i++) await producer.send('add', 'hot', { by: 1 });
    const monitor = processOn(broker, closers);
    expect(await monitor.depth(0)).toBe(4);

    const error = await producer.send('add', 'hot', { by: 1000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ code: 'TIMEOUT', retriable: true, operation: 'enqueue', timeoutMs: 100 });
    expect(observer.refused).toEqual([{ shard: 0, reason: 'timeout' }]);
    expect(await totalDepth(monitor, 1)).toBe(4);

    const store = new MemoryStateStore();
    const owner = new Owner({ domain: counters, transport: processOn(broker, closers), store });
    closers.push(() => owner.close());
    await owner.start();
    await quiesce(monitor, 1);
    expect(await sum(store)).toBe(4);
    // The producer is usable again once there is room.
    await producer.send('add', 'hot', { by: 1 });
    await quiesce(monitor, 1);
    expect(await sum(store)).toBe(5);
  });
});
