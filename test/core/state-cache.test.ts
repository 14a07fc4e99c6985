import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { StateCache } from '../../src/runtime/state-cache.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';
import { waitFor } from '../../src/testing/recording-handler.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import { closedAfterEach, counters, entries, FaultyStore, keysOnShard, processOn, quiesce, RecordingObserver } from './helpers.ts';

const closers = closedAfterEach();
const SHARDS = 2;

type Broker = ReturnType<typeof MemoryTransport.broker>;

function startOwner(broker: Broker, store: FaultyStore, options: { stateCacheEntries?: number } = {}) {
  const observer = new RecordingObserver();
  const owner = new Owner({ domain: counters, transport: processOn(broker, closers), store, observer, retryBackoffMs: 1, ...options });
  closers.push(() => owner.close());
  return { owner, observer };
}

function producerOn(broker: Broker): Producer<typeof counters> {
  const producer = new Producer({ domain: counters, transport: processOn(broker, closers) });
  closers.push(() => producer.close());
  return producer;
}

/** Keys the owner asked the store for, over all its loads. */
const loadedKeys = (store: FaultyStore) => store.loads.flatMap((load) => load.keys);

async function values(store: MemoryStateStore): Promise<Map<string, number>> {
  return new Map([...(await entries<{ value: number }>(store))].map(([key, state]) => [key, state.value]));
}

/** Owner A of both shards of a broker, over a store shared with the owners a test adds, with one key per shard at 1. */
async function ownerOfTwoShards() {
  const broker = MemoryTransport.broker({ shards: SHARDS, capacity: 64, revokeTimeoutMs: 50, retryDelayMs: 5 });
  const shared = new MemoryStateStore();
  const storeOfA = new FaultyStore(shared);
  const a = startOwner(broker, storeOfA);
  await a.owner.start();
  const producer = producerOn(broker);
  const monitor = processOn(broker, closers);
  const keys = Array.from({ length: SHARDS }, (_, shard) => keysOnShard(shard, SHARDS, 1, 'acct-')[0]!);
  for (const key of keys) await producer.send('add', key, { by: 1 });
  await quiesce(monitor, SHARDS);
  return { broker, shared, storeOfA, a, producer, monitor, keys };
}

describe('the owner caches the state it committed', () => {
  it('reads each entity from the store once while it holds the shard', async () => {
    const broker = MemoryTransport.broker({ shards: 1, capacity: 64 });
    const store = new FaultyStore(new MemoryStateStore());
    const { owner } = startOwner(broker, store);
    await owner.start();
    const producer = producerOn(broker);
    for (let i = 0; i < 5; i++) {
      await producer.send('add', 'a', { by: 1 });
      await producer.send('add', 'b', { by: 1 });
      await quiesce(processOn(broker, closers), 1);
    }
    expect(loadedKeys(store).sort()).toEqual(['a', 'b']);
    expect(await values(store.inner as MemoryStateStore)).toEqual(new Map([['a', 5], ['b', 5]]));
  });

  it('with stateCacheEntries 0, reads the store for every batch', async () => {
    const broker = MemoryTransport.broker({ shards: 1, capacity: 64 });
    const store = new FaultyStore(new MemoryStateStore());
    const { owner } = startOwner(broker, store, { stateCacheEntries: 0 });
    await owner.start();
    const producer = producerOn(broker);
    for (let i = 0; i < 3; i++) {
      await producer.send('add', 'a', { by: 1 });
      await quiesce(processOn(broker, closers), 1);
    }
    expect(loadedKeys(store)).toEqual(['a', 'a', 'a']);
  });

  it('a negative stateCacheEntries is refused with ConfigError naming it', () => {
    const broker = MemoryTransport.broker({ shards: 1, capacity: 8 });
    const create = () => new Owner({ domain: counters, transport: processOn(broker, closers), stateCacheEntries: -1 });
    expect(create).toThrow(ConfigError);
    expect(create).toThrow(/stateCacheEntries/);
  });

  it('ownership moving A → B → A while B writes: A reads the store again and applies on what B committed', async () => {
    const { broker, shared, storeOfA, a, producer, monitor, keys } = await ownerOfTwoShards();
    expect(a.owner.owned()).toHaveLength(SHARDS);

    // B takes a shard over and applies to an entity A has cached.
    const b = startOwner(broker, new FaultyStore(shared));
    await b.owner.start();
    await waitFor('B owning a shard', () => b.owner.owned().length > 0 && a.owner.owned().length + b.owner.owned().length === SHARDS, 5_000);
    const moved = b.owner.owned().map((grant) => grant.shard);
    for (const key of keys) await producer.send('add', key, { by: 10 });
    await quiesce(monitor, SHARDS);
    expect(await values(shared)).toEqual(new Map(keys.map((key) => [key, 11])));

    // B leaves; A owns every shard again and must apply on B's commits, not on its cache.
    const loadsBefore = storeOfA.loads.length;
    await b.owner.close();
    await waitFor('A owning every shard again', () => a.owner.owned().length === SHARDS, 5_000);
    for (const key of keys) await producer.send('add', key, { by: 100 });
    await quiesce(monitor, SHARDS);
    expect(await values(shared)).toEqual(new Map(keys.map((key) => [key, 111])));
    const reread = storeOfA.loads.slice(loadsBefore).filter((load) => moved.includes(load.shard));
    expect(reread.flatMap((load) => load.keys)).toEqual(moved.map((shard) => keys[shard]));
  });

  it('a batch whose commit failed drops the cache: its redelivery reads the store again', async () => {
    const broker = MemoryTransport.broker({ shards: 1, capacity: 64, retryDelayMs: 5 });
    const store = new FaultyStore(new MemoryStateStore());
    const { owner } = startOwner(broker, store);
    await owner.start();
    const producer = producerOn(broker);
    const monitor = processOn(broker, closers);
    await producer.send('add', 'k', { by: 1 });
    await quiesce(monitor, 1);
    expect(loadedKeys(store)).toEqual(['k']);

    store.failNextCommits(1);
    await producer.send('add', 'k', { by: 10 });
    await quiesce(monitor, 1);
    expect(store.commits.filter((commit) => !commit.ok)).toHaveLength(1);
    // The second batch found k cached; its redelivery, after the failure, read it again.
    expect(loadedKeys(store)).toEqual(['k', 'k']);
    expect(await values(store.inner as MemoryStateStore)).toEqual(new Map([['k', 11]]));
  });

  it('a paused owner fenced while another applied: once it holds the shards again, it applies on what the other committed', async () => {
    const { broker, shared, storeOfA, a, producer, monitor, keys } = await ownerOfTwoShards();

    // A stalls holding a commit of every shard; B takes some over and applies them.
    storeOfA.pause();
    for (const key of keys) await producer.send('add', key, { by: 10 });
    await waitFor('A holding a commit of every shard', () => storeOfA.waiting === SHARDS, 5_000);
    const b = startOwner(broker, new FaultyStore(shared));
    await b.owner.start();
    await waitFor('B owning a shard', () => b.owner.owned().length > 0, 5_000);
    const moved = b.owner.owned().map((grant) => grant.shard);
    await waitFor('B applied the moved shards', async () => {
      for (const shard of moved) if ((await monitor.depth(shard)) > 0) return false;
      return true;
    }, 5_000);
    storeOfA.resume();
    await quiesce(monitor, SHARDS);
    expect([...a.observer.stale].sort()).toEqual([...moved].sort());
    expect(await values(shared)).toEqual(new Map(keys.map((key) => [key, 11])));

    await b.owner.close();
    await waitFor('A owning every shard again', () => a.owner.owned().length === SHARDS, 5_000);
    for (const key of keys) await producer.send('add', key, { by: 100 });
    await quiesce(monitor, SHARDS);
    expect(await values(shared)).toEqual(new Map(keys.map((key) => [key, 111])));
  });

  it('keeps at most stateCacheEntries entities: an evicted one is read from the store again', async () => {
    const broker = MemoryTransport.broker({ shards: 1, capacity: 64 });
    const store = new FaultyStore(new MemoryStateStore());
    const { owner } = startOwner(broker, store, { stateCacheEntries: 2 });
    await owner.start();
    const producer = producerOn(broker);
    const monitor = processOn(broker, closers);
    for (const key of ['a', 'b', 'c', 'a']) {
      await producer.send('add', key, { by: 1 });
      await quiesce(monitor, 1);
    }
    expect(loadedKeys(store)).toEqual(['a', 'b', 'c', 'a']);
    expect(await values(store.inner as MemoryStateStore)).toEqual(new Map([['a', 2], ['b', 1], ['c', 1]]));
  });
});

describe('StateCache', () => {
  it('evicts the least recently used entity over all shards, and never holds more than its capacity', () => {
    const cache = new StateCache(3);
    cache.committed(0, new Map([['a', 1], ['b', 2]]));
    cache.committed(1, new Map([['c', 3]]));
    const hits = new Map<string, unknown>();
    expect(cache.lookup(0, ['a'], hits)).toEqual([]);
    cache.committed(1, new Map([['d', 4]]));
    expect(cache.size).toBe(3);
    const found = new Map<string, unknown>();
    expect(cache.lookup(0, ['a', 'b'], found)).toEqual(['b']);
    expect(cache.lookup(1, ['c', 'd', 'd'], found)).toEqual([]);
    expect(found).toEqual(new Map<string, unknown>([['a', 1], ['c', 3], ['d', 4]]));
  });

  it('remembers an entity the store did not have, and reports each missing key once', () => {
    const cache = new StateCache(10);
    const into = new Map<string, unknown>();
    expect(cache.lookup(0, ['x', 'y', 'x'], into)).toEqual(['x', 'y']);
    cache.loaded(0, ['x', 'y'], new Map([['y', { v: 1 }]]));
    const again = new Map<string, unknown>();
    expect(cache.lookup(0, ['x', 'y'], again)).toEqual([]);
    expect(again).toEqual(new Map([['y', { v: 1 }]]));
  });

  it('drop forgets one shard only and frees its room', () => {
    const cache = new StateCache(3);
    cache.committed(0, new Map([['a', 1], ['b', 2]]));
    cache.committed(1, new Map([['c', 3]]));
    cache.drop(0);
    expect(cache.size).toBe(1);
    expect(cache.lookup(0, ['a', 'b'], new Map())).toEqual(['a', 'b']);
    cache.committed(1, new Map([['d', 4], ['e', 5]]));
    expect(cache.lookup(1, ['c', 'd', 'e'], new Map())).toEqual([]);
  });
});
