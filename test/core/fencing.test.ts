import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineDomain } from '../../src/core/domain.ts';
import { ShardlineError, StaleEpochError } from '../../src/core/errors.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';
import type { ShardCommit } from '../../src/state/state-store.ts';
import { waitFor } from '../../src/testing/recording-handler.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import { closedAfterEach, counters, entries, FaultyStore, keysOnShard, processOn, quiesce, RecordingObserver } from './helpers.ts';

const closers = closedAfterEach();

type Broker = ReturnType<typeof MemoryTransport.broker>;

function owner(broker: Broker, store: MemoryStateStore | FaultyStore) {
  const observer = new RecordingObserver();
  const created = new Owner({ domain: counters, transport: processOn(broker, closers), store, observer, retryBackoffMs: 1 });
  closers.push(() => created.close());
  return { owner: created, observer };
}

const commit = (epoch: number, position: number, value: number): ShardCommit => ({
  epoch,
  position,
  changes: new Map([['k', { value }]]),
  appliedIds: [`id-${position}`],
  marks: new Map(),
  forgottenMarks: [],
  outbox: [],
  deadLetters: [],
});

async function values(store: MemoryStateStore): Promise<Map<string, number>> {
  return new Map([...(await entries<{ value: number }>(store))].map(([key, state]) => [key, state.value]));
}

describe('the memory store is the fencing authority', () => {
  it('every claim issues a greater epoch; a commit with an older epoch is refused with StaleEpochError and changes nothing', async () => {
    const store = new MemoryStateStore();
    const first = await store.claim(0, 0);
    expect(first).toMatchObject({ position: -1, recentIds: [], outbox: [] });
    await store.commit(0, commit(first.epoch, 0, 1));

    const second = await store.claim(0, 0);
    expect(second.epoch).toBeGreaterThan(first.epoch);
    expect(second).toMatchObject({ position: 0, recentIds: ['id-0'] });

    const error = await store.commit(0, commit(first.epoch, 1, 99)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StaleEpochError);
    expect(error).toBeInstanceOf(ShardlineError);
    expect(error).toMatchObject({ code: 'STALE_EPOCH', retriable: false, shard: 0, epoch: first.epoch, currentEpoch: second.epoch });
    expect((error as Error).message).toContain(String(second.epoch));

    expect(await values(store)).toEqual(new Map([['k', 1]]));
    expect(await store.status(0)).toEqual({ epoch: second.epoch, position: 0 });
    expect((await store.claim(0, 0)).recentIds).toEqual(['id-0']);
  });

  it('an epoch the store never issued is refused too; the new claimant commits', async () => {
    const store = new MemoryStateStore();
    const claimed = await store.claim(3, 0);
    await expect(store.commit(3, commit(claimed.epoch + 1, 0, 5))).rejects.toBeInstanceOf(StaleEpochError);
    await store.commit(3, commit(claimed.epoch, 0, 5));
    expect(await values(store)).toEqual(new Map([['k', 5]]));
  });

  it('the claim takes the transport epoch when it is greater, and still grows past it', async () => {
    const store = new MemoryStateStore();
    expect((await store.claim(0, 1_000)).epoch).toBe(1_000);
    expect((await store.claim(0, 5)).epoch).toBe(1_001);
    expect((await store.claim(0, 2_000)).epoch).toBe(2_000);
    // Shards are fenced independently.
    expect((await store.claim(1, 0)).epoch).toBe(1);
    expect(await store.status(0)).toEqual({ epoch: 2_000, position: -1 });
  });
});

describe('a second owner fences the first', () => {
  it('a paused owner whose shards were taken over: its pending commits are refused, it stops those shards, nothing is applied twice', async () => {
    const SHARDS = 4;
    const broker = MemoryTransport.broker({ shards: SHARDS, capacity: 32, revokeTimeoutMs: 50, retryDelayMs: 10 });
    const store = new MemoryStateStore();
    const paused = new FaultyStore(store);
    const a = owner(broker, paused);
    await a.owner.start();
    const producer = new Producer({ domain: counters, transport: processOn(broker, closers) });
    closers.push(() => producer.close());
    const monitor = processOn(broker, closers);
    const keys = Array.from({ length: SHARDS }, (_, shard) => keysOnShard(shard, SHARDS, 1, 'acct-')[0]!);

    for (const key of keys) await producer.send('add', key, { by: 1 });
    await quiesce(monitor, SHARDS);
    const epochsOfA = new Map(a.owner.owned().map((g) => [g.shard, g.epoch]));
    expect(epochsOfA.size).toBe(SHARDS);

    // A stalls with one batch of every shard in hand, just before committing it.
    paused.pause();
    for (const key of keys) await producer.send('add', key, { by: 10 });
    await waitFor('A holding a commit of every shard', () => paused.waiting === SHARDS, 5_000);

    // B joins; the shards that move to it are redelivered to B, which claims and applies them.
    const b = owner(broker, store);
    await b.owner.start();
    await waitFor('B owning some shards', () => b.owner.owned().length > 0, 5_000);
    const moved = b.owner.owned().map((g) => g.shard).sort();
    expect(moved.length).toBeLessThan(SHARDS);
    await waitFor('B applied the moved shards', async () => {
      for (const shard of moved) if ((await monitor.depth(shard)) > 0) return false;
      return true;
    }, 5_000);
    for (const grant of b.owner.owned()) expect(grant.epoch).toBeGreaterThan(epochsOfA.get(grant.shard)!);

    // A wakes up: its commits on the moved shards are refused, the others go through.
    const batchesBefore = a.observer.batches.length;
    paused.resume();
    await quiesce(monitor, SHARDS);
    expect([...a.observer.stale].sort()).toEqual(moved);
    const refused = paused.commits.filter((c) => !c.ok).map((c) => c.shard).sort();
    expect(refused).toEqual(moved);
    expect(a.owner.owned().map((g) => g.shard).filter((shard) => moved.includes(shard))).toEqual([]);
    expect(a.observer.batches.slice(batchesBefore).filter((batch) => moved.includes(batch.shard))).toEqual([]);

    const state = await values(store);
    for (const key of keys) expect(state.get(key)).toBe(11);

    // From now on only B applies the moved shards, each command once.
    for (const key of keys) await producer.send('add', key, { by: 100 });
    await quiesce(monitor, SHARDS);
    const after = await values(store);
    for (const key of keys) expect(after.get(key)).toBe(111);
    expect(a.observer.batches.slice(batchesBefore).filter((batch) => moved.includes(batch.shard))).toEqual([]);
    expect(paused.commits.filter((c) => moved.includes(c.shard) && c.epoch === epochsOfA.get(c.shard) && c.ok).length).toBe(moved.length);
  });

  it('a claim made elsewhere fences the running owner: its next batch is refused, and the shard resumes only under a fresh claim, each command applied once', async () => {
    const broker = MemoryTransport.broker({ shards: 1, capacity: 32, revokeTimeoutMs: 50, retryDelayMs: 10 });
    const store = new MemoryStateStore();
    const a = owner(broker, store);
    await a.owner.start();
    const producer = new Producer({ domain: counters, transport: processOn(broker, closers) });
    closers.push(() => producer.close());
    const monitor = processOn(broker, closers);
    await producer.send('add', 'k', { by: 1 });
    await quiesce(monitor, 1);
    const before = a.owner.owned()[0]!.epoch;

    const elsewhere = await store.claim(0, 0);
    expect(elsewhere.epoch).toBeGreaterThan(before);
    await producer.send('add', 'k', { by: 10 });
    await waitFor('the batch refused', () => a.observer.stale.length > 0, 5_000);
    expect(a.observer.stale).toEqual([0]);

    // The memory transport grants the shard again; the new claim fences "elsewhere" in turn.
    await quiesce(monitor, 1);
    await waitFor('the shard owned again', () => a.owner.owned().length === 1, 5_000);
    expect(a.owner.owned()[0]!.epoch).toBeGreaterThan(elsewhere.epoch);
    expect((await values(store)).get('k')).toBe(11);
    await expect(store.commit(0, commit(elsewhere.epoch, 99, 0))).rejects.toBeInstanceOf(StaleEpochError);
    expect((await values(store)).get('k')).toBe(11);
  });
});

/** Counters whose `poison` command always throws. */
const poisoned = defineDomain({
  name: 'poisoned',
  initial: (): { value: number } => ({ value: 0 }),
  commands: { add: z.object({ by: z.number().int() }), poison: z.object({}) },
}).handle({
  add: (state, { by }) => ({ state: { value: state.value + by } }),
  poison(): never {
    throw new Error('poison');
  },
});

describe('a fenced owner leaves no effect behind', () => {
  it('the dead letters of a batch whose commit was refused are not recorded: one dead letter per command in the store', async () => {
    const SHARDS = 4;
    const broker = MemoryTransport.broker({ shards: SHARDS, capacity: 32, revokeTimeoutMs: 50, retryDelayMs: 10 });
    const store = new MemoryStateStore();
    const deadLetters = store.deadLetters;
    const paused = new FaultyStore(store);
    const start = (s: MemoryStateStore | FaultyStore) => {
      const observer = new RecordingObserver();
      const created = new Owner({ domain: poisoned, transport: processOn(broker, closers), store: s, observer, maxAttempts: 1 });
      closers.push(() => created.close());
      return { owner: created, observer };
    };
    const a = start(paused);
    await a.owner.start();
    const producer = new Producer({ domain: poisoned, transport: processOn(broker, closers) });
    closers.push(() => producer.close());
    const monitor = processOn(broker, closers);
    const keys = Array.from({ length: SHARDS }, (_, shard) => keysOnShard(shard, SHARDS, 1, 'acct-')[0]!);
    for (const key of keys) await producer.send('add', key, { by: 1 });
    await quiesce(monitor, SHARDS);

    paused.pause();
    for (const key of keys) await producer.send('poison', key, {});
    await waitFor('A holding a commit of every shard', () => paused.waiting === SHARDS, 5_000);
    const b = start(store);
    await b.owner.start();
    await waitFor('B owning some shards', () => b.owner.owned().length > 0, 5_000);
    const moved = b.owner.owned().map((g) => g.shard);
    await waitFor('B applied the moved shards', async () => {
      for (const shard of moved) if ((await monitor.depth(shard)) > 0) return false;
      return true;
    }, 5_000);
    paused.resume();
    await quiesce(monitor, SHARDS);
    expect([...a.observer.stale].sort()).toEqual([...moved].sort());

    const letters = await deadLetters.list();
    expect(letters.map((l) => `${l.shard}@${l.position}`).sort()).toEqual([...new Set(letters.map((l) => `${l.shard}@${l.position}`))].sort());
    expect(await deadLetters.count()).toBe(SHARDS);
  });
});
