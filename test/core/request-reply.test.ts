import { afterEach, describe, expect, it } from 'vitest';
import { ClosedError, Rejected, ShardlineError, TimeoutError } from '../../src/core/errors.ts';
import { accounts } from '../../src/domains/accounts.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import { entries, quiesce, RecordingObserver, totalDepth } from './helpers.ts';

const SHARDS = 4;
const closers: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function setup(options: { owner?: boolean } = {}) {
  const transport = new MemoryTransport({ shards: SHARDS, capacity: 32 });
  const observer = new RecordingObserver();
  const producer = new Producer({ domain: accounts, transport });
  closers.push(() => transport.close(), () => producer.close());
  let owner: Owner<typeof accounts> | undefined;
  if (options.owner ?? true) {
    owner = new Owner({ domain: accounts, transport, observer, retryBackoffMs: 1 });
    closers.push(() => owner!.close());
    await owner.start();
  }
  return { transport, producer, owner, observer };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error,
  );
}

describe('request(): the reply of the handler, after the owner applied the command', () => {
  it('resolves with the reply value of each handler', async () => {
    const { producer } = await setup();
    expect(await producer.request('open', 'alice', { initialBalance: 100 })).toEqual({ balance: 100 });
    expect(await producer.request('open', 'bob', {})).toEqual({ balance: 0 });
    expect(await producer.request('deposit', 'alice', { amount: 25 })).toEqual({ balance: 125 });
    expect(await producer.request('withdraw', 'alice', { amount: 5 })).toEqual({ balance: 120 });
    expect(await producer.request('transfer', 'alice', { to: 'bob', amount: 20 })).toEqual({ balance: 100 });
  });

  it('the reply reflects every command applied before it on the same key', async () => {
    const { producer } = await setup();
    await producer.request('open', 'alice', {});
    const replies = await Promise.all(Array.from({ length: 20 }, () => producer.request('deposit', 'alice', { amount: 1 })));
    // Each deposit saw the ones before it: the balances are exactly 1..20, each once.
    expect(replies.map((r) => r.balance).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('rejects with Rejected carrying the reason and details; the state is unchanged and nothing is retried', async () => {
    const { producer, owner, observer, transport } = await setup();
    await producer.request('open', 'alice', { initialBalance: 10 });

    const error = await rejection(producer.request('withdraw', 'alice', { amount: 50 }));
    expect(error).toBeInstanceOf(Rejected);
    expect(error).toBeInstanceOf(ShardlineError);
    const rejected = error as Rejected;
    expect(rejected.code).toBe('REJECTED');
    expect(rejected.retriable).toBe(false);
    expect(rejected.reason).toBe('insufficient funds');
    expect(rejected.details).toEqual({ balance: 10, amount: 50 });

    const notOpen = (await rejection(producer.request('deposit', 'nobody', { amount: 1 }))) as Rejected;
    expect(notOpen).toBeInstanceOf(Rejected);
    expect(notOpen.reason).toBe('account not open');
    expect(notOpen.details).toBeUndefined();

    const again = (await rejection(producer.request('open', 'alice', {}))) as Rejected;
    expect(again.reason).toBe('account already open');

    await quiesce(transport, SHARDS);
    const state = await entries<{ open: boolean; balance: number }>(owner!.store);
    expect(state.get('alice')).toEqual({ open: true, balance: 10 });
    expect(state.has('nobody')).toBe(false);
    expect(observer.count('withdraw', 'rejected')).toBe(1);
    expect(observer.count('deposit', 'rejected')).toBe(1);
    expect(observer.count('open', 'rejected')).toBe(1);
    expect(await owner!.deadLetters.count()).toBe(0);
  });

  it('a rejected transfer emits nothing: no credit reaches the target', async () => {
    const { producer, owner, observer, transport } = await setup();
    await producer.request('open', 'alice', { initialBalance: 10 });
    await producer.request('open', 'bob', { initialBalance: 0 });
    await expect(producer.request('transfer', 'alice', { to: 'bob', amount: 11 })).rejects.toMatchObject({ reason: 'insufficient funds' });
    await expect(producer.request('transfer', 'alice', { to: 'alice', amount: 1 })).rejects.toBeInstanceOf(Rejected);
    await quiesce(transport, SHARDS);
    expect(observer.count('credit', 'ok')).toBe(0);
    const state = await entries<{ open: boolean; balance: number }>(owner!.store);
    expect(state.get('alice')).toEqual({ open: true, balance: 10 });
    expect(state.get('bob')).toEqual({ open: true, balance: 0 });
  });

  it('each reply reaches the producer that asked, with several producers (processes) on one broker', async () => {
    const broker = MemoryTransport.broker({ shards: SHARDS, capacity: 32 });
    const owner = new Owner({ domain: accounts, transport: new MemoryTransport({ broker }) });
    closers.push(() => owner.close());
    await owner.start();
    const producers = Array.from({ length: 4 }, () => {
      const producer = new Producer({ domain: accounts, transport: new MemoryTransport({ broker }) });
      closers.push(() => producer.close());
      return producer;
    });
    await producers[0]!.request('open', 'shared', {});
    const replies = await Promise.all(
      producers.flatMap((producer, p) => Array.from({ length: 5 }, (_, i) => producer.request('open', `own-${p}-${i}`, { initialBalance: 100 * p + i }))),
    );
    expect(replies.map((r) => r.balance)).toEqual(producers.flatMap((_, p) => Array.from({ length: 5 }, (_, i) => 100 * p + i)));
    const deposits = await Promise.all(producers.map((producer) => producer.request('deposit', 'shared', { amount: 1 })));
    expect(deposits.map((d) => d.balance).sort()).toEqual([1, 2, 3, 4]);
  });

  it('rejects with TimeoutError when no owner applies the command in time; the command stays enqueued', async () => {
    const { producer, transport } = await setup({ owner: false });
    const error = await rejection(producer.request('open', 'alice', {}, { timeoutMs: 150 }));
    expect(error).toBeInstanceOf(TimeoutError);
    const timeout = error as TimeoutError;
    expect(timeout.code).toBe('TIMEOUT');
    expect(timeout.retriable).toBe(true);
    expect(timeout.operation).toBe('request');
    expect(timeout.timeoutMs).toBe(150);
    expect(timeout.message).toContain('alice');
    expect(await totalDepth(transport, SHARDS)).toBe(1);

    // The default limit is the producer's requestTimeoutMs.
    const short = new Producer({ domain: accounts, transport, requestTimeoutMs: 100 });
    closers.push(() => short.close());
    await expect(short.request('open', 'bob', {})).rejects.toMatchObject({ code: 'TIMEOUT', timeoutMs: 100 });

    // An owner that starts late still applies what was enqueued, once.
    const owner = new Owner({ domain: accounts, transport });
    closers.push(() => owner.close());
    await owner.start();
    await quiesce(transport, SHARDS);
    const state = await entries<{ open: boolean; balance: number }>(owner.store);
    expect([...state.keys()].sort()).toEqual(['alice', 'bob']);
  });

  it('close() fails the requests still waiting with ClosedError, and refuses new commands', async () => {
    const { producer } = await setup({ owner: false });
    const waiting = rejection(producer.request('open', 'alice', {}, { timeoutMs: 10_000 }));
    await producer.flush();
    await producer.close();
    expect(await waiting).toBeInstanceOf(ClosedError);
    await expect(producer.send('open', 'bob', {})).rejects.toBeInstanceOf(ClosedError);
    await producer.close();
  });
});
