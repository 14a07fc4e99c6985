import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineDomain } from '../../src/core/domain.ts';
import { ClosedError, InvalidReadError, QueryFailedError, TimeoutError } from '../../src/core/errors.ts';
import { shardOf } from '../../src/core/router.ts';
import { accounts } from '../../src/domains/accounts.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { Reader } from '../../src/runtime/reader.ts';
import { parseReceipt, receiptToken } from '../../src/runtime/receipt.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import { waitFor } from '../../src/testing/recording-handler.ts';
import { FaultyStore, RecordingObserver, keysOnShard, refusal, watch } from './helpers.ts';

const SHARDS = 4;
const closers: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function setup() {
  const transport = new MemoryTransport({ shards: SHARDS, capacity: 64 });
  const store = new FaultyStore(new MemoryStateStore());
  const observer = new RecordingObserver();
  const owner = new Owner({ domain: accounts, transport, store, retryBackoffMs: 1 });
  const producer = new Producer({ domain: accounts, transport, observer });
  const reader = new Reader({ domain: accounts, transport, store });
  closers.push(() => transport.close(), () => owner.close(), () => producer.close(), () => reader.close());
  await owner.start();
  return { transport, store, owner, producer, reader, observer };
}

describe('committed reads: queries and state from the store, never through a queue', () => {
  it('answers a query and the state with the point of the shard\'s history it reflects', async () => {
    const { producer, reader, store } = await setup();
    await producer.request('open', 'alice', { initialBalance: 100 });
    await producer.request('deposit', 'alice', { amount: 20 });
    const shard = shardOf('alice', SHARDS);
    const { position, epoch } = await store.status(shard);

    expect(await reader.query('balance', 'alice', {})).toEqual({ value: 120, key: 'alice', shard, position, epoch, found: true, consistency: 'committed' });
    expect((await reader.query('canAfford', 'alice', { amount: 120 })).value).toBe(true);
    expect((await reader.query('canAfford', 'alice', { amount: 121 })).value).toBe(false);
    expect((await reader.get('alice')).value).toEqual({ open: true, balance: 120 });
    expect(position).toBeGreaterThanOrEqual(1);
    expect(epoch).toBeGreaterThanOrEqual(1);
  });

  it('answers a key no command wrote from its initial state, found false', async () => {
    const { reader } = await setup();
    const read = await reader.get('nobody');
    expect(read).toMatchObject({ value: { open: false, balance: 0 }, found: false, key: 'nobody' });
    expect((await reader.query('canAfford', 'nobody', { amount: 1 })).value).toBe(false);
  });

  it('hands out a copy: changing what a read returned changes nothing the owner holds', async () => {
    const { producer, reader } = await setup();
    await producer.request('open', 'alice', { initialBalance: 5 });
    const read = await reader.get('alice');
    (read.value as { balance: number }).balance = 1_000_000;
    expect((await reader.get('alice')).value).toEqual({ open: true, balance: 5 });
    expect(await producer.request('withdraw', 'alice', { amount: 5 })).toEqual({ balance: 0 });
  });

  it('never waits for the owner: with a commit held up, reads answer at once with the last commit, and nothing is enqueued', async () => {
    const { producer, reader, store, observer } = await setup();
    await producer.request('open', 'alice', { initialBalance: 100 });
    const enqueued = observer.enqueuedCount();
    store.pause();
    const deposit = producer.request('deposit', 'alice', { amount: 50 });
    await waitFor('the deposit to wait in its commit', () => store.waiting === 1, 5_000);

    const reads = await Promise.all(Array.from({ length: 20 }, () => reader.query('balance', 'alice', {})));
    expect(reads.map((read) => read.value)).toEqual(Array(20).fill(100));
    expect(observer.enqueuedCount()).toBe(enqueued + 1);

    store.resume();
    await deposit;
    expect((await reader.query('balance', 'alice', {})).value).toBe(150);
  });

  it('after a receipt, waits until its command is committed, then reflects it', async () => {
    const { producer, reader, store } = await setup();
    await producer.request('open', 'alice', { initialBalance: 100 });
    store.pause();
    const receipt = await producer.send('withdraw', 'alice', { amount: 30 });
    await waitFor('the withdrawal to wait in its commit', () => store.waiting === 1, 5_000);

    const after = reader.query('balance', 'alice', {}, { after: receipt });
    const byToken = reader.get('alice', { after: receiptToken(receipt) });
    const seen = watch(Promise.all([after, byToken]));
    expect((await reader.query('balance', 'alice', {})).value).toBe(100);
    await waitFor('a few polls of the store', () => store.reads >= 6, 5_000);
    expect(seen.settled).toBe(false);

    store.resume();
    expect((await after).value).toBe(70);
    expect((await byToken).value).toEqual({ open: true, balance: 70 });
  });

  it('after a receipt of a command applied long ago, answers at once', async () => {
    const { producer, reader } = await setup();
    const receipt = await producer.send('open', 'alice', { initialBalance: 9 });
    await producer.request('deposit', 'alice', { amount: 1 });
    expect((await reader.query('balance', 'alice', {}, { after: receipt })).value).toBe(10);
    expect((await reader.query('balance', 'alice', {}, { after: JSON.parse(JSON.stringify(receipt)) })).value).toBe(10);
  });

  it('times out naming the shard, the producer and its mark when the command is not committed in time', async () => {
    const { producer, reader, store } = await setup();
    await producer.request('open', 'alice', { initialBalance: 1 });
    store.pause();
    const receipt = await producer.send('deposit', 'alice', { amount: 1 });
    const error = await refusal(reader.query('balance', 'alice', {}, { after: receipt, timeoutMs: 60 }));
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ code: 'TIMEOUT', retriable: true, timeoutMs: 60 });
    expect((error as Error).message).toContain(`shard ${receipt.shard} has not applied seq ${receipt.seq} of producer ${receipt.origin} (its mark is ${receipt.seq - 1}`);
    store.resume();
  });

  it('refuses a receipt of another shard: it orders reads of its own shard only', async () => {
    const { producer, reader } = await setup();
    const [here] = keysOnShard(0, SHARDS, 1, 'acct-');
    const [there] = keysOnShard(1, SHARDS, 1, 'acct-');
    const receipt = await producer.send('open', here!, {});
    const error = await refusal(reader.get(there!, { after: receipt }));
    expect(error).toBeInstanceOf(InvalidReadError);
    expect(error).toMatchObject({ code: 'INVALID_READ', field: 'after' });
    expect((error as Error).message).toContain(`expected a receipt of shard 1, where key ${JSON.stringify(there)} lives, got one of shard 0`);
  });

  it('refuses a bad read before reading, naming the field, what was expected and what was got', async () => {
    const { reader } = await setup();
    const cases: [Promise<unknown>, string, string][] = [
      [reader.query('history' as never, 'alice', {} as never), 'query', 'unknown query "history" for domain accounts; expected one of balance, canAfford'],
      [reader.query('canAfford', 'alice', { amount: -1 }), 'params.amount', 'params.amount: Too small'],
      [reader.query('canAfford', 'alice', {} as never), 'params.amount', 'params.amount:'],
      [reader.get(''), 'key', 'expected a non-empty string, got ""'],
      [reader.get('\ud800x'), 'key', 'lone surrogate'],
      [reader.get('alice', { consistency: 'eventual' as never }), 'consistency', 'expected committed or owner, got "eventual"'],
      [reader.get('alice', { timeoutMs: 0 }), 'timeoutMs', 'expected a positive integer of milliseconds, got 0'],
      [reader.get('alice', { after: 'not-a-receipt' }), 'after', 'expected a receipt token <shard>.<seq>.<origin> (as a send answers it), got "not-a-receipt"'],
      [reader.get('alice', { after: { shard: -1, origin: '', seq: 1.5 } }), 'after', 'expected shard to be an integer >= 0, got -1; origin to be a non-empty string, got ""; seq to be an integer >= 0, got 1.5'],
    ];
    for (const [read, field, message] of cases) {
      const error = await refusal(read);
      expect(error, field).toBeInstanceOf(InvalidReadError);
      expect(error, field).toMatchObject({ code: 'INVALID_READ', field, retriable: false });
      expect((error as Error).message, field).toContain(message);
    }
  });

  it('a reader without a store makes owner reads only, and says so', async () => {
    const transport = new MemoryTransport({ shards: SHARDS });
    const reader = new Reader({ domain: accounts, transport });
    closers.push(() => transport.close(), () => reader.close());
    const error = await refusal(reader.get('alice'));
    expect(error).toMatchObject({ code: 'INVALID_READ', field: 'consistency' });
    expect((error as Error).message).toContain('expected owner: this reader of domain accounts has no state store to read committed state from, got committed');
  });

  it('a resolver that throws is a QueryFailedError naming the query and key', async () => {
    const broken = defineDomain({ name: 'broken', initial: () => ({ n: 0 }), commands: { set: z.object({}) }, queries: { boom: z.object({}) } })
      .handle({ set: (state) => ({ state }) })
      .query({
        boom: () => {
          throw new RangeError('no answer here');
        },
      });
    const transport = new MemoryTransport({ shards: SHARDS });
    const reader = new Reader({ domain: broken, transport, store: new MemoryStateStore() });
    closers.push(() => transport.close(), () => reader.close());
    const error = await refusal(reader.query('boom', 'k', {}));
    expect(error).toBeInstanceOf(QueryFailedError);
    expect(error).toMatchObject({ code: 'QUERY_FAILED', query: 'boom', key: 'k', message: 'query boom of key "k" failed: its resolver threw RangeError: no answer here' });
  });

  it('close() ends reads still waiting for a receipt, and refuses new ones', async () => {
    const { producer, reader, store } = await setup();
    await producer.request('open', 'alice', {});
    store.pause();
    const receipt = await producer.send('deposit', 'alice', { amount: 1 });
    const waiting = refusal(reader.get('alice', { after: receipt }));
    await waitFor('the read to poll', () => store.reads >= 2, 5_000);
    await reader.close();
    expect(await waiting).toBeInstanceOf(ClosedError);
    expect(await refusal(reader.get('alice'))).toBeInstanceOf(ClosedError);
    store.resume();
  });
});

describe('receipts', () => {
  it('carry the producer and the command\'s seq, as plain data and as a token', async () => {
    const { producer } = await setup();
    const receipt = await producer.send('open', 'alice', {});
    expect(receipt).toEqual({ id: expect.any(String), shard: shardOf('alice', SHARDS), origin: expect.any(String), seq: expect.any(Number) });
    const [outcome] = await producer.sendMany([{ type: 'deposit', key: 'alice', payload: { amount: 1 } }]);
    expect(outcome).toEqual({ ok: true, id: expect.any(String), shard: receipt.shard, origin: receipt.origin, seq: receipt.seq + 1 });
    expect(parseReceipt(receiptToken(receipt))).toEqual({ shard: receipt.shard, origin: receipt.origin, seq: receipt.seq });
    expect(parseReceipt('3.12.an.origin.with.dots')).toEqual({ shard: 3, seq: 12, origin: 'an.origin.with.dots' });
  });
});
