import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { encodeCommand } from '../../src/core/command.ts';
import { defineDomain } from '../../src/core/domain.ts';
import { ConnectionError } from '../../src/core/errors.ts';
import { accounts, type Account } from '../../src/domains/accounts.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';
import { waitFor } from '../../src/testing/recording-handler.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import type { EnqueueOptions, EnqueueResult, TransportMessage } from '../../src/transports/transport.ts';
import { closedAfterEach, entries, FaultyStore, keysOnShard, processOn, quiesce, RecordingObserver, TransportDecorator, yieldTurns } from './helpers.ts';

const SHARDS = 2;
const closers = closedAfterEach();

type Broker = ReturnType<typeof MemoryTransport.broker>;

/**
 * The real memory transport, seen through an owner that records what it enqueues and can
 * suffer one transient enqueue failure (a dropped connection to a broker).
 */
class WatchedTransport extends TransportDecorator {
  /** Types of the commands enqueued, per call, with the shard. */
  readonly enqueued: { shard: number; types: string[] }[] = [];
  #failNext: number | undefined;

  constructor(inner: MemoryTransport) {
    super('watched-memory', inner);
  }

  /** The next enqueue to `shard` fails once with a retriable ConnectionError. */
  failNextEnqueue(shard: number): void {
    this.#failNext = shard;
  }

  override enqueue(shard: number, messages: readonly TransportMessage[], options: EnqueueOptions): Promise<EnqueueResult> {
    if (this.#failNext === shard) {
      this.#failNext = undefined;
      return Promise.reject(new ConnectionError('broker', 'connection reset (injected)'));
    }
    this.enqueued.push({ shard, types: messages.map((m) => (JSON.parse(m.value) as { type: string }).type) });
    return this.inner.enqueue(shard, messages, options);
  }
}

function startOwner(broker: Broker, store: MemoryStateStore | FaultyStore, options: { retryBackoffMs?: number } = {}) {
  const transport = new WatchedTransport(processOn(broker, closers));
  const observer = new RecordingObserver();
  const owner = new Owner({ domain: accounts, transport, store, observer, retryBackoffMs: options.retryBackoffMs ?? 1 });
  closers.push(() => owner.close());
  return { owner, transport, observer, started: owner.start() };
}

async function balances(store: MemoryStateStore): Promise<Map<string, Account>> {
  return entries<Account>(store);
}

/** An account on each shard: the debit and the credit of a transfer between them are applied by different shards. */
const [ALICE, BOB] = [keysOnShard(0, SHARDS, 1, 'alice-')[0]!, keysOnShard(1, SHARDS, 1, 'bob-')[0]!];

async function openAccounts(producer: Producer<typeof accounts>): Promise<void> {
  await producer.request('open', ALICE, { initialBalance: 1_000 });
  await producer.request('open', BOB, { initialBalance: 0 });
}

describe('follow-ups are sent only after the commit that produced them', () => {
  it('while the transfer commit is held, no credit leaves the owner; once it lands the credit is sent and applied', async () => {
    const broker = MemoryTransport.broker({ shards: SHARDS, capacity: 32 });
    const store = new MemoryStateStore();
    const held = new FaultyStore(store);
    const a = startOwner(broker, held);
    await a.started;
    const producer = new Producer({ domain: accounts, transport: processOn(broker, closers) });
    closers.push(() => producer.close());
    const monitor = processOn(broker, closers);
    await openAccounts(producer);
    await quiesce(monitor, SHARDS);

    held.pause();
    const transfer = producer.request('transfer', ALICE, { to: BOB, amount: 300 });
    await waitFor('the transfer commit held', () => held.waiting === 1, 5_000);
    await yieldTurns(5);
    expect(a.transport.enqueued.filter((e) => e.types.includes('credit'))).toEqual([]);
    expect(await monitor.depth(1)).toBe(0);
    expect((await balances(store)).get(ALICE)).toEqual({ open: true, balance: 1_000 });

    held.resume();
    expect(await transfer).toEqual({ balance: 700 });
    await quiesce(monitor, SHARDS);
    expect(a.transport.enqueued.filter((e) => e.types.includes('credit'))).toEqual([{ shard: 1, types: ['credit'] }]);
    const after = await balances(store);
    expect(after.get(ALICE)).toEqual({ open: true, balance: 700 });
    expect(after.get(BOB)).toEqual({ open: true, balance: 300 });
  });

  it('a credit to an account that is not open comes back as a refund; money is conserved', async () => {
    const broker = MemoryTransport.broker({ shards: SHARDS, capacity: 32 });
    const store = new MemoryStateStore();
    const a = startOwner(broker, store);
    await a.started;
    const producer = new Producer({ domain: accounts, transport: processOn(broker, closers) });
    closers.push(() => producer.close());
    await producer.request('open', ALICE, { initialBalance: 100 });
    expect(await producer.request('transfer', ALICE, { to: BOB, amount: 40 })).toEqual({ balance: 60 });
    await quiesce(processOn(broker, closers), SHARDS);
    const after = await balances(store);
    expect(after.get(ALICE)).toEqual({ open: true, balance: 100 });
    expect(after.get(BOB) ?? { open: false, balance: 0 }).toEqual({ open: false, balance: 0 });
    expect(a.observer.count('credit', 'ok')).toBe(1);
    expect(a.observer.count('refund', 'ok')).toBe(1);
  });
});

describe('an owner that dies between its commit and sending its follow-ups', () => {
  it('the next owner sends them from the committed outbox, and the credit is applied exactly once even when the first owner wakes up and sends it too', async () => {
    const broker = MemoryTransport.broker({ shards: SHARDS, capacity: 32, revokeTimeoutMs: 50, retryDelayMs: 10 });
    const store = new MemoryStateStore();
    const crashing = new FaultyStore(store);
    const a = startOwner(broker, crashing);
    await a.started;
    const producer = new Producer({ domain: accounts, transport: processOn(broker, closers) });
    closers.push(() => producer.close());
    const monitor = processOn(broker, closers);
    await openAccounts(producer);
    await quiesce(monitor, SHARDS);

    crashing.crashAfterCommit();
    await producer.send('transfer', ALICE, { to: BOB, amount: 250 });
    await waitFor('the transfer committed, then the owner "crashed"', () => crashing.crashed === 1, 5_000);
    expect((await balances(store)).get(ALICE)).toEqual({ open: true, balance: 750 });
    expect(a.transport.enqueued.filter((e) => e.types.includes('credit'))).toEqual([]);

    // Its lease runs out; a new owner takes every shard over and finds the outbox.
    await a.owner.close();
    const b = startOwner(broker, store);
    await b.started;
    await quiesce(monitor, SHARDS);
    expect((await balances(store)).get(BOB)).toEqual({ open: true, balance: 250 });
    expect(b.transport.enqueued.filter((e) => e.types.includes('credit')).length).toBeGreaterThanOrEqual(1);

    // The first owner was only paused: it wakes and sends the same credit again.
    crashing.revive();
    await waitFor('the zombie sent its credit', () => a.transport.enqueued.some((e) => e.types.includes('credit')), 5_000);
    await quiesce(monitor, SHARDS);
    const after = await balances(store);
    expect(after.get(BOB)).toEqual({ open: true, balance: 250 });
    expect(after.get(ALICE)).toEqual({ open: true, balance: 750 });
    expect(b.observer.count('credit', 'ok')).toBe(1);
    expect(b.observer.count('credit', 'duplicate')).toBeGreaterThanOrEqual(1);
  });

  it('a store snapshot with a pending outbox: the owner that claims the shard sends it; a copy the dead owner had already sent is not applied again', async () => {
    const broker = MemoryTransport.broker({ shards: SHARDS, capacity: 32 });
    const store = new MemoryStateStore();
    // What a dead owner of shard 0 left behind: alice debited by transfer t-1, its credit to bob unsent.
    const dead = await store.claim(0, 0);
    const credit = {
      key: BOB,
      value: encodeCommand({ id: 't-1.0', type: 'credit', key: BOB, payload: { from: ALICE, amount: 125 }, sentAt: Date.now(), origin: '~0', seq: 0 }),
    };
    await store.commit(0, {
      epoch: dead.epoch,
      position: 0,
      changes: new Map([[ALICE, { open: true, balance: 875 }]]),
      appliedIds: ['t-1'],
      marks: new Map(),
      forgottenMarks: [],
      outbox: [credit],
      deadLetters: [],
    });
    const bobShard = await store.claim(1, 0);
    await store.commit(1, { epoch: bobShard.epoch, position: -1, changes: new Map([[BOB, { open: true, balance: 0 }]]), appliedIds: [], marks: new Map(), forgottenMarks: [], outbox: [], deadLetters: [] });
    // ...and which it had in fact sent before dying.
    const monitor = processOn(broker, closers);
    await monitor.enqueue(1, [credit], { overflow: 'block', timeoutMs: 1_000, reserve: 0 });

    const b = startOwner(broker, store);
    await b.started;
    await quiesce(monitor, SHARDS);
    const after = await balances(store);
    expect(after.get(ALICE)).toEqual({ open: true, balance: 875 });
    expect(after.get(BOB)).toEqual({ open: true, balance: 125 });
    expect(b.observer.count('credit', 'ok')).toBe(1);
    expect(b.observer.count('credit', 'duplicate')).toBe(1);
  });
});

describe('a follow-up whose enqueue fails is retried and still applied', () => {
  it('a transient enqueue failure of one credit, while a later credit to the same shard goes through, loses no money', async () => {
    const broker = MemoryTransport.broker({ shards: SHARDS, capacity: 32 });
    const store = new MemoryStateStore();
    const a = startOwner(broker, store, { retryBackoffMs: 100 });
    await a.started;
    const producer = new Producer({ domain: accounts, transport: processOn(broker, closers) });
    closers.push(() => producer.close());
    const monitor = processOn(broker, closers);
    await openAccounts(producer);
    await quiesce(monitor, SHARDS);

    a.transport.failNextEnqueue(1);
    expect(await producer.request('transfer', ALICE, { to: BOB, amount: 10 })).toEqual({ balance: 990 });
    expect(await producer.request('transfer', ALICE, { to: BOB, amount: 20 })).toEqual({ balance: 970 });
    await waitFor('both credits enqueued', () => a.transport.enqueued.filter((e) => e.types.includes('credit')).length === 2, 5_000);
    await quiesce(monitor, SHARDS);

    const after = await balances(store);
    expect(after.get(ALICE)).toEqual({ open: true, balance: 970 });
    expect(after.get(BOB)).toEqual({ open: true, balance: 30 });
    expect(a.observer.count('credit', 'ok')).toBe(2);
  });
});

/** A relay: `forward` emits a `note` to another key, then may reject or throw. */
let forwardRuns = 0;
const runsById = new Map<string, number>();
const relay = defineDomain({
  name: 'relay',
  initial: (): { notes: readonly string[] } => ({ notes: [] }),
  commands: {
    forward: z.object({ to: z.string(), text: z.string(), then: z.enum(['ok', 'reject', 'throw-once', 'throw-always']) }),
    note: z.object({ text: z.string() }),
  },
}).handle({
  forward(state, { to, text, then }, ctx) {
    forwardRuns++;
    runsById.set(ctx.id, (runsById.get(ctx.id) ?? 0) + 1);
    ctx.emit('note', to, { text });
    if (then === 'reject') ctx.reject('refused after emitting');
    if (then === 'throw-always' || (then === 'throw-once' && runsById.get(ctx.id) === 1)) throw new Error('failed after emitting');
    return { state };
  },
  note: (state, { text }) => ({ state: { notes: [...state.notes, text] } }),
});

describe('what a handler emits counts only if the command is applied', () => {
  it('emits of a rejected command, of a failed attempt, and of a dead-lettered command are never sent', async () => {
    forwardRuns = 0;
    runsById.clear();
    const broker = MemoryTransport.broker({ shards: SHARDS, capacity: 32 });
    const store = new MemoryStateStore();
    const owner = new Owner({ domain: relay, transport: processOn(broker, closers), store, maxAttempts: 3, retryBackoffMs: 1 });
    closers.push(() => owner.close());
    await owner.start();
    const producer = new Producer({ domain: relay, transport: processOn(broker, closers) });
    closers.push(() => producer.close());

    await expect(producer.request('forward', ALICE, { to: BOB, text: 'rejected', then: 'reject' })).rejects.toMatchObject({ code: 'REJECTED' });
    await producer.request('forward', ALICE, { to: BOB, text: 'retried', then: 'throw-once' });
    await expect(producer.request('forward', ALICE, { to: BOB, text: 'dead', then: 'throw-always' })).rejects.toMatchObject({ code: 'COMMAND_FAILED' });
    await producer.request('forward', ALICE, { to: BOB, text: 'plain', then: 'ok' });
    await quiesce(processOn(broker, closers), SHARDS);

    const notes = await entries<{ notes: string[] }>(store);
    expect(notes.get(BOB)?.notes).toEqual(['retried', 'plain']);
    expect(forwardRuns).toBe(1 + 2 + 3 + 1);
    expect(await owner.deadLetters.count()).toBe(1);
  });
});
