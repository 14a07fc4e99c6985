import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeCommand } from '../../src/core/command.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';
import { waitFor } from '../../src/testing/recording-handler.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import type { EnqueueOptions } from '../../src/transports/transport.ts';
import { closedAfterEach, entries, FaultyStore, lists, processOn, quiesce, RecordingObserver, yieldTurns } from './helpers.ts';

const closers = closedAfterEach();

type Broker = ReturnType<typeof MemoryTransport.broker>;

function startOwner(broker: Broker, store: MemoryStateStore | FaultyStore, into: (() => Promise<unknown>)[], observer = new RecordingObserver()) {
  const owner = new Owner({ domain: lists, transport: processOn(broker, into), store, observer, retryBackoffMs: 1, followUpForceAfterMs: 50 });
  into.push(() => owner.close());
  return { owner, observer, started: owner.start() };
}

async function items(store: MemoryStateStore): Promise<Map<string, readonly string[]>> {
  const all = new Map<string, readonly string[]>();
  for (const [key, state] of await entries<{ items: readonly string[] }>(store)) all.set(key, state.items);
  return all;
}

const block: EnqueueOptions = { overflow: 'block', timeoutMs: 5_000, reserve: 0 };

describe('per-key order', () => {
  const KEYS = ['k0', 'k1', 'k2', 'k3'];
  const producerPlan = fc.record({
    mode: fc.constantFrom('await' as const, 'fire' as const, 'sendMany' as const),
    sends: fc.array(fc.record({ key: fc.nat({ max: KEYS.length - 1 }), yields: fc.nat({ max: 3 }), cut: fc.boolean() }), { minLength: 1, maxLength: 25 }),
  });

  it('holds for every producer on every key, under random interleavings, capacities, shard counts and owner restarts', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          shards: fc.integer({ min: 1, max: 4 }),
          capacity: fc.integer({ min: 2, max: 16 }),
          maxBatch: fc.integer({ min: 1, max: 8 }),
          producers: fc.array(producerPlan, { minLength: 2, maxLength: 4 }),
          restarts: fc.array(fc.nat({ max: 6 }), { maxLength: 2 }),
        }),
        async (plan) => {
          const local: (() => Promise<unknown>)[] = [];
          try {
            const broker = MemoryTransport.broker({ shards: plan.shards, capacity: plan.capacity, maxBatch: plan.maxBatch, revokeTimeoutMs: 30, retryDelayMs: 5 });
            const store = new MemoryStateStore();
            let current = startOwner(broker, store, local);
            await current.started;

            const producing = plan.producers.map(async (producerPlan, p) => {
              const producer = new Producer({ domain: lists, transport: processOn(broker, local) });
              local.push(() => producer.close());
              // Connected first: call order before the first connect completes is pinned (and
              // broken) separately below, so that this property can find anything else.
              await producer.connect();
              const pending: Promise<unknown>[] = [];
              let chunk: { type: 'append'; key: string; payload: { item: string } }[] = [];
              for (const [n, send] of producerPlan.sends.entries()) {
                await yieldTurns(send.yields);
                const key = KEYS[send.key]!;
                const item = `${p}:${n}`;
                if (producerPlan.mode === 'await') await producer.send('append', key, { item });
                else if (producerPlan.mode === 'fire') pending.push(producer.send('append', key, { item }));
                else {
                  chunk.push({ type: 'append', key, payload: { item } });
                  if (send.cut) {
                    const outcomes = await producer.sendMany(chunk);
                    expect(outcomes.every((o) => o.ok)).toBe(true);
                    chunk = [];
                  }
                }
              }
              if (chunk.length > 0) expect((await producer.sendMany(chunk)).every((o) => o.ok)).toBe(true);
              await Promise.all(pending);
            });

            const chaos = (async () => {
              for (const delay of plan.restarts) {
                await yieldTurns(delay * 3);
                await current.owner.close();
                current = startOwner(broker, store, local);
                await current.started;
              }
            })();

            await Promise.all([...producing, chaos]);
            await quiesce(processOn(broker, local), plan.shards);

            const state = await items(store);
            for (const [k, key] of KEYS.entries()) {
              const applied = state.get(key) ?? [];
              expect(new Set(applied).size).toBe(applied.length);
              plan.producers.forEach((producerPlan, p) => {
                const sent = producerPlan.sends.flatMap((send, n) => (send.key === k ? [`${p}:${n}`] : []));
                expect(applied.filter((item) => item.startsWith(`${p}:`))).toEqual(sent);
              });
            }
          } finally {
            for (const close of local.reverse()) await close();
          }
        },
      ),
      { numRuns: 30 },
    );
  });

  it('holds within a shard across keys for one producer: the shard applies in enqueue order', async () => {
    const broker = MemoryTransport.broker({ shards: 1, capacity: 4, maxBatch: 3 });
    const store = new MemoryStateStore();
    const producer = new Producer({ domain: lists, transport: processOn(broker, closers) });
    closers.push(() => producer.close());
    const { started } = startOwner(broker, store, closers);
    await started;
    const sends = Array.from({ length: 60 }, (_, n) => producer.send('append', `k${n % 3}`, { item: String(n) }));
    await Promise.all(sends);
    await quiesce(processOn(broker, closers), 1);
    const state = await items(store);
    for (let k = 0; k < 3; k++) {
      expect(state.get(`k${k}`)).toEqual(Array.from({ length: 20 }, (_, i) => String(3 * i + k)));
    }
  });
});

describe('one producer: call order is apply order for a key', () => {
  it('from the very first send, made before the producer has connected', async () => {
    const broker = MemoryTransport.broker({ shards: 1 });
    const store = new MemoryStateStore();
    const { started } = startOwner(broker, store, closers);
    await started;
    const producer = new Producer({ domain: lists, transport: processOn(broker, closers) });
    closers.push(() => producer.close());
    // Fire-and-forget, with unrelated awaits in between, as application code does.
    const first = producer.send('append', 'k', { item: 'first' });
    await Promise.resolve();
    const second = producer.send('append', 'k', { item: 'second' });
    await yieldTurns(1);
    const third = producer.send('append', 'k', { item: 'third' });
    await Promise.all([first, second, third]);
    await quiesce(processOn(broker, closers), 1);
    expect((await items(store)).get('k')).toEqual(['first', 'second', 'third']);
  });

  it('a request() followed by a send() to the same key', async () => {
    const broker = MemoryTransport.broker({ shards: 1 });
    const store = new MemoryStateStore();
    const { started } = startOwner(broker, store, closers);
    await started;
    const producer = new Producer({ domain: lists, transport: processOn(broker, closers) });
    closers.push(() => producer.close());
    await producer.connect();
    const requested = producer.request('append', 'k', { item: 'requested' });
    const sent = producer.send('append', 'k', { item: 'sent' });
    await Promise.all([requested, sent]);
    await quiesce(processOn(broker, closers), 1);
    expect((await items(store)).get('k')).toEqual(['requested', 'sent']);
  });
});

describe('a redelivered command is not applied twice', () => {
  it('a batch committed by an owner that died before acknowledging is redelivered to the next owner and skipped by position', async () => {
    const broker = MemoryTransport.broker({ shards: 1, capacity: 32, revokeTimeoutMs: 50, retryDelayMs: 10 });
    const store = new MemoryStateStore();
    const faulty = new FaultyStore(store);
    const first = startOwner(broker, faulty, closers);
    await first.started;
    const producer = new Producer({ domain: lists, transport: processOn(broker, closers) });
    closers.push(() => producer.close());

    faulty.crashAfterCommit();
    await producer.sendMany(['a', 'b', 'c', 'd', 'e'].map((item) => ({ type: 'append' as const, key: 'k', payload: { item } })));
    await waitFor('the first owner to commit and "crash"', () => faulty.crashed === 1, 5_000);
    const monitor = processOn(broker, closers);
    expect(await monitor.depth(0)).toBe(5);
    expect(await store.status(0)).toMatchObject({ position: 4 });

    // The dead owner's lease ends; a new owner takes the shard and gets the same batch again.
    const second = startOwner(broker, store, closers);
    await second.started;
    await first.owner.close();
    await producer.send('append', 'k', { item: 'f' });
    await quiesce(monitor, 1);

    expect((await items(store)).get('k')).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(second.observer.count('(redelivered)', 'duplicate')).toBe(5);
    expect(second.observer.count('append', 'ok')).toBe(1);
    expect(await store.status(0)).toMatchObject({ position: 5 });
  });

  it('a batch whose commit failed (nothing written) is delivered again and applied exactly once, not skipped as already seen', async () => {
    const broker = MemoryTransport.broker({ shards: 1, capacity: 32, revokeTimeoutMs: 50, retryDelayMs: 10 });
    const store = new MemoryStateStore();
    const flaky = new FaultyStore(store);
    const { started, observer } = startOwner(broker, flaky, closers);
    await started;
    const producer = new Producer({ domain: lists, transport: processOn(broker, closers) });
    closers.push(() => producer.close());
    const transport = processOn(broker, closers);

    flaky.failNextCommits(2);
    await producer.sendMany(['a', 'b', 'c'].map((item) => ({ type: 'append' as const, key: 'k', payload: { item } })));
    // Commands without an origin (another client's encoding) take the id-window path.
    await transport.enqueue(0, ['d', 'e'].map((item) => ({ key: 'k', value: encodeCommand({ id: `raw-${item}`, type: 'append', key: 'k', payload: { item }, sentAt: Date.now() }) })), block);
    await quiesce(transport, 1);

    expect(flaky.commits.filter((c) => !c.ok).length).toBe(2);
    expect((await items(store)).get('k')).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(observer.count('append', 'duplicate')).toBe(0);
  });

  it('a batch whose commit landed but whose reply was lost is not applied again when it is delivered again', async () => {
    const broker = MemoryTransport.broker({ shards: 1, capacity: 32, revokeTimeoutMs: 50, retryDelayMs: 10 });
    const store = new MemoryStateStore();
    const lossy = new FaultyStore(store);
    const { started } = startOwner(broker, lossy, closers);
    await started;
    const producer = new Producer({ domain: lists, transport: processOn(broker, closers) });
    closers.push(() => producer.close());
    const transport = processOn(broker, closers);

    lossy.loseNextReplies(1);
    await producer.sendMany(['a', 'b', 'c'].map((item) => ({ type: 'append' as const, key: 'k', payload: { item } })));
    await quiesce(transport, 1);
    await producer.send('append', 'k', { item: 'd' });
    await quiesce(transport, 1);

    expect(lossy.commits.filter((c) => c.ok).length).toBeGreaterThanOrEqual(2);
    expect((await items(store)).get('k')).toEqual(['a', 'b', 'c', 'd']);
  });

  it('the same command id enqueued again (in the batch, in a later batch, after an owner restart) is applied once', async () => {
    const broker = MemoryTransport.broker({ shards: 2, capacity: 32, revokeTimeoutMs: 50, retryDelayMs: 10 });
    const store = new MemoryStateStore();
    const transport = processOn(broker, closers);
    await transport.connect();
    const command = (id: string, item: string) => ({ key: 'k', value: encodeCommand({ id, type: 'append', key: 'k', payload: { item }, sentAt: Date.now() }) });
    const { shardOf } = await import('../../src/core/router.ts');
    const shard = shardOf('k', 2);

    await transport.enqueue(shard, [command('x1', 'one'), command('x1', 'one'), command('x2', 'two')], block);
    const first = startOwner(broker, store, closers);
    await first.started;
    await quiesce(transport, 2);
    await transport.enqueue(shard, [command('x2', 'two'), command('x3', 'three')], block);
    await quiesce(transport, 2);
    await first.owner.close();

    const second = startOwner(broker, store, closers);
    await second.started;
    await transport.enqueue(shard, [command('x1', 'one'), command('x3', 'three'), command('x4', 'four')], block);
    await quiesce(transport, 2);

    expect((await items(store)).get('k')).toEqual(['one', 'two', 'three', 'four']);
    expect(first.observer.count('append', 'duplicate')).toBe(2);
    expect(second.observer.count('append', 'duplicate')).toBe(2);
    expect(second.observer.count('append', 'ok')).toBe(1);
  });
});
