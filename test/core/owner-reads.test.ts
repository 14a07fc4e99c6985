import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MemoryReplyBus, type Reply } from '../../src/common/replies.ts';
import { defineDomain } from '../../src/core/domain.ts';
import { QueryFailedError, TimeoutError } from '../../src/core/errors.ts';
import { shardOf } from '../../src/core/router.ts';
import { accounts } from '../../src/domains/accounts.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { Reader } from '../../src/runtime/reader.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import { waitFor } from '../../src/testing/recording-handler.ts';
import { FaultyStore, refusal, watch } from './helpers.ts';

const SHARDS = 4;
const closers: (() => Promise<unknown>)[] = [];
const owner = { consistency: 'owner' } as const;

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function setup(options: { start?: boolean } = {}) {
  const transport = new MemoryTransport({ shards: SHARDS, capacity: 64, retryDelayMs: 5 });
  const store = new FaultyStore(new MemoryStateStore());
  const runner = new Owner({ domain: accounts, transport, store, retryBackoffMs: 1 });
  const producer = new Producer({ domain: accounts, transport });
  const reader = new Reader({ domain: accounts, transport, store });
  closers.push(() => transport.close(), () => runner.close(), () => producer.close(), () => reader.close());
  if (options.start ?? true) await runner.start();
  return { transport, store, owner: runner, producer, reader };
}

describe("owner reads: asked of the shard's owner, in order with its commands", () => {
  it('waits behind the commands enqueued before it and answers once they are committed', async () => {
    const { store, producer, reader, owner: runner } = await setup();
    await producer.request('open', 'alice', { initialBalance: 100 });
    store.pause();
    await producer.send('deposit', 'alice', { amount: 50 });
    await waitFor('the deposit to wait in its commit', () => store.waiting === 1, 5_000);

    const read = reader.query('balance', 'alice', {}, owner);
    const seen = watch(read);
    expect((await reader.query('balance', 'alice', {})).value).toBe(100);
    await waitFor('the read to reach the queue', async () => (await reader.get('alice')).value.balance === 100 && store.waiting === 1, 5_000);
    expect(seen.settled).toBe(false);

    store.resume();
    const answer = await read;
    const shard = shardOf('alice', SHARDS);
    expect(answer).toEqual({ value: 150, key: 'alice', shard, position: (await store.status(shard)).position, epoch: runner.owned().find((g) => g.shard === shard)!.epoch, found: true, consistency: 'owner' });
  });

  it('between two commands of one batch, answers the state after the first, sent once both are committed', async () => {
    const { store, producer, reader, transport } = await setup();
    const shard = shardOf('alice', SHARDS);
    await producer.request('open', 'alice', { initialBalance: 10 });
    store.pause();
    await producer.send('deposit', 'alice', { amount: 1 });
    await waitFor('the first deposit to wait in its commit', () => store.waiting === 1, 5_000);
    const read = reader.query('balance', 'alice', {}, owner);
    await waitFor('the read to be queued behind it', async () => (await transport.depth(shard)) === 2, 5_000);
    await producer.send('deposit', 'alice', { amount: 100 });
    const firstDeposit = (await store.status(shard)).position + 1;

    store.resume();
    const answer = await read;
    expect(answer.value).toBe(11);
    expect(answer.position).toBe(firstDeposit);
    // Sent after the commit of its batch, which holds the second deposit.
    expect((await reader.query('balance', 'alice', {})).value).toBe(111);
    expect((await store.status(shard)).position).toBeGreaterThan(answer.position);
  });

  it('changes nothing: a batch of reads commits nothing and leaves the position where the last command put it', async () => {
    const { store, producer, reader } = await setup();
    const shard = shardOf('alice', SHARDS);
    await producer.request('open', 'alice', { initialBalance: 7 });
    const before = await store.status(shard);
    const commits = store.commits.length;

    const answers = await Promise.all(Array.from({ length: 10 }, () => reader.query('canAfford', 'alice', { amount: 7 }, owner)));
    expect(answers.map((a) => [a.value, a.position])).toEqual(Array(10).fill([true, before.position]));
    expect(store.commits.length).toBe(commits);
    expect(await store.status(shard)).toEqual(before);

    expect(await producer.request('withdraw', 'alice', { amount: 2 })).toEqual({ balance: 5 });
    expect((await store.status(shard)).position).toBeGreaterThan(before.position);
    expect((await reader.get('alice', owner)).value).toEqual({ open: true, balance: 5 });
  });

  it('a fenced owner never answers: its reads-only batch finds the epoch moved and the read is answered under a new claim', async () => {
    const { store, producer, reader, owner: runner } = await setup();
    const shard = shardOf('alice', SHARDS);
    await producer.request('open', 'alice', { initialBalance: 3 });
    const held = runner.owned().find((g) => g.shard === shard)!.epoch;
    const elsewhere = (await store.claim(shard, 0)).epoch;

    const answer = await reader.query('balance', 'alice', {}, owner);
    expect(elsewhere).toBeGreaterThan(held);
    expect(answer.value).toBe(3);
    expect(answer.epoch).toBeGreaterThan(elsewhere);
  });

  it('answers a key never written from its initial state, and a copy of the state', async () => {
    const { producer, reader } = await setup();
    expect(await reader.get('nobody', owner)).toMatchObject({ value: { open: false, balance: 0 }, found: false, position: -1 });
    await producer.request('open', 'alice', { initialBalance: 1 });
    const read = await reader.get('alice', owner);
    (read.value as { balance: number }).balance = 99;
    expect((await reader.get('alice', owner)).value).toEqual({ open: true, balance: 1 });
  });

  it('a resolver that throws at the owner is a QueryFailedError; the shard goes on', async () => {
    const broken = defineDomain({ name: 'broken', initial: () => ({ n: 0 }), commands: { inc: z.object({}) }, queries: { boom: z.object({}) } })
      .handle({ inc: (state) => ({ state: { n: state.n + 1 }, reply: state.n + 1 }) })
      .query({
        boom: () => {
          throw new RangeError('no answer here');
        },
      });
    const transport = new MemoryTransport({ shards: SHARDS });
    const runner = new Owner({ domain: broken, transport });
    const producer = new Producer({ domain: broken, transport });
    const reader = new Reader({ domain: broken, transport, store: runner.store });
    closers.push(() => transport.close(), () => runner.close(), () => producer.close(), () => reader.close());
    await runner.start();
    const error = await refusal(reader.query('boom', 'k', {}, owner));
    expect(error).toBeInstanceOf(QueryFailedError);
    expect((error as Error).message).toBe('query boom of key "k" failed: the owner answered: QueryFailedError: query boom of key "k" failed: its resolver threw RangeError: no answer here');
    expect(await producer.request('inc', 'k', {})).toBe(1);
    expect(await runner.deadLetters.count()).toBe(0);
  });

  it('times out when no owner answers, and the read stays a read: nothing is applied for it later', async () => {
    const { producer, reader, owner: runner, store } = await setup({ start: false });
    const error = await refusal(reader.get('alice', { consistency: 'owner', timeoutMs: 50 }));
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as Error).message).toContain('no answer from the owner to read');
    await runner.start();
    expect(await producer.request('open', 'alice', { initialBalance: 4 })).toEqual({ balance: 4 });
    expect(await store.deadLetters.count()).toBe(0);
    expect(store.commits.every((commit) => commit.ok)).toBe(true);
  });

  it('checks a read from another process again: an unknown query or bad params get a failed answer, never a dead letter', async () => {
    const { transport, store } = await setup();
    const replies = new MemoryReplyBus();
    closers.push(() => replies.close());
    const got: Reply[] = [];
    const address = await replies.listen((batch) => got.push(...batch));
    const shard = shardOf('alice', SHARDS);
    const encoded = (id: string, type: string, payload: unknown) => ({ key: 'alice', value: JSON.stringify({ id, type, key: 'alice', payload, sentAt: 1, replyTo: address }) });
    await transport.enqueue(shard, [encoded('r1', '?history', {}), encoded('r2', '?canAfford', { amount: 'lots' }), encoded('r3', '?canAfford', { amount: 1 })], { overflow: 'block', timeoutMs: 1_000, reserve: 0 });
    await waitFor('three answers', () => got.length === 3, 5_000);
    expect(got[0]).toMatchObject({ id: 'r1', ok: false, failed: expect.stringContaining('unknown query "history" for domain accounts') });
    expect(got[1]).toMatchObject({ id: 'r2', ok: false, failed: expect.stringContaining('params.amount') });
    expect(got[2]).toEqual({ id: 'r3', ok: true, value: { value: false, found: false, position: -1, epoch: expect.any(Number) } });
    expect(await store.deadLetters.count()).toBe(0);
    expect((await store.status(shard)).position).toBe(-1);
  });
});
