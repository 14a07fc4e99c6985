import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { encodeCommand } from '../../src/core/command.ts';
import { defineDomain } from '../../src/core/domain.ts';
import { CommandFailedError, ShardlineError } from '../../src/core/errors.ts';
import { shardOf } from '../../src/core/router.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';
import { waitFor } from '../../src/testing/recording-handler.ts';
import { entries, FaultyStore, keysOnShard, quiesce, RecordingObserver } from './helpers.ts';

/** When each command id's handler ran (performance.now()), to count attempts and see the backoff. */
const runs = new Map<string, number[]>();
function ran(id: string): number {
  const list = runs.get(id) ?? [];
  list.push(performance.now());
  runs.set(id, list);
  return list.length;
}

/** Jobs append their label; `poison` always throws; `flaky` throws its first `failures` runs. */
const jobs = defineDomain({
  name: 'jobs',
  initial: (): { done: readonly string[] } => ({ done: [] }),
  commands: {
    run: z.object({ label: z.string() }),
    poison: z.object({ label: z.string() }),
    flaky: z.object({ label: z.string(), failures: z.number().int().nonnegative() }),
  },
}).handle({
  run: (state, { label }) => ({ state: { done: [...state.done, label] }, reply: label }),
  poison(_state, { label }, ctx): never {
    ran(ctx.id);
    throw new Error(`boom ${label}`);
  },
  flaky(state, { label, failures }, ctx) {
    if (ran(ctx.id) <= failures) throw new Error(`transient ${label}`);
    return { state: { done: [...state.done, label] }, reply: label };
  },
});

const SHARDS = 2;
const closers: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  runs.clear();
});

async function setup(ownerOptions: { maxAttempts?: number; retryBackoffMs?: number } = {}) {
  const transport = new MemoryTransport({ shards: SHARDS, capacity: 64 });
  const producer = new Producer({ domain: jobs, transport });
  const observer = new RecordingObserver();
  const owner = new Owner({ domain: jobs, transport, observer, ...ownerOptions });
  closers.push(() => transport.close(), () => producer.close(), () => owner.close());
  return { transport, producer, owner, observer };
}

const done = async (owner: Owner<typeof jobs>) => {
  const all = await entries<{ done: string[] }>(owner.store);
  return (key: string) => all.get(key)?.done ?? [];
};

describe('a command that keeps failing is retried with backoff, then dead-lettered, and the shard moves on', () => {
  it('poison: maxAttempts runs with doubling backoff, one dead letter with its error and attempts, later commands of the shard applied in order', async () => {
    const { transport, producer, owner, observer } = await setup({ maxAttempts: 4, retryBackoffMs: 15 });
    const [a, b] = keysOnShard(1, SHARDS, 2, 'job-');
    await producer.send('run', a!, { label: 'a1' });
    const poison = await producer.send('poison', a!, { label: 'p' });
    await producer.send('run', a!, { label: 'a2' });
    await producer.send('run', b!, { label: 'b1' });
    await owner.start();
    await quiesce(transport, SHARDS);

    const attempts = runs.get(poison.id) ?? [];
    expect(attempts).toHaveLength(4);
    // Lower bounds only: each retry waited at least retryBackoffMs * 2^(n-1) (1 ms timer slack).
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(15 * 2 ** i - 1));

    const letters = await owner.deadLetters.list();
    expect(await owner.deadLetters.count()).toBe(1);
    expect(letters).toHaveLength(1);
    const letter = letters[0]!;
    expect(letter).toMatchObject({ shard: 1, id: poison.id, type: 'poison', key: a, attempts: 4 });
    expect(letter.error).toContain('boom p');
    expect(JSON.parse(letter.value)).toMatchObject({ id: poison.id, type: 'poison', key: a, payload: { label: 'p' } });
    expect(observer.count('poison', 'failed')).toBe(1);
    expect(observer.deadLetters).toEqual([{ shard: 1, type: 'poison', error: letter.error }]);

    const state = await done(owner);
    expect(state(a!)).toEqual(['a1', 'a2']);
    expect(state(b!)).toEqual(['b1']);
    expect(await owner.store.status(1)).toMatchObject({ position: 3 });
  });

  it('a dead-lettered command is not retried again when its shard is taken over by a new owner', async () => {
    const { transport, producer, owner } = await setup({ maxAttempts: 2, retryBackoffMs: 1 });
    const [a] = keysOnShard(0, SHARDS, 1, 'job-');
    const poison = await producer.send('poison', a!, { label: 'p' });
    await producer.send('run', a!, { label: 'after' });
    await owner.start();
    await quiesce(transport, SHARDS);
    await owner.close();

    const next = new Owner({ domain: jobs, transport, store: owner.store, maxAttempts: 2, retryBackoffMs: 1 });
    closers.push(() => next.close());
    await next.start();
    await producer.send('run', a!, { label: 'later' });
    await quiesce(transport, SHARDS);
    expect(runs.get(poison.id)).toHaveLength(2);
    expect(await owner.deadLetters.count()).toBe(1);
    expect((await done(next))(a!)).toEqual(['after', 'later']);
  });

  it('dead letters are written with the batch: an owner that dies right after its commit leaves exactly one, and the next owner does not retry the command', async () => {
    const broker = MemoryTransport.broker({ shards: SHARDS, capacity: 64, revokeTimeoutMs: 50, retryDelayMs: 10 });
    const store = new MemoryStateStore();
    const crashing = new FaultyStore(store);
    const transport = new MemoryTransport({ broker });
    const producer = new Producer({ domain: jobs, transport });
    const first = new Owner({ domain: jobs, transport: new MemoryTransport({ broker }), store: crashing, maxAttempts: 2, retryBackoffMs: 1 });
    closers.push(() => transport.close(), () => producer.close(), () => first.close());
    await first.start();
    crashing.crashAfterCommit();
    const poison = await producer.send('poison', 'job-c', { label: 'c' });
    await waitFor('the commit landed and the owner "died"', () => crashing.crashed === 1, 5_000);
    expect(await store.deadLetters.count()).toBe(1);

    const next = new Owner({ domain: jobs, transport: new MemoryTransport({ broker }), store, maxAttempts: 2, retryBackoffMs: 1 });
    closers.push(() => next.close());
    await next.start();
    await first.close();
    await producer.send('run', 'job-c', { label: 'after' });
    await quiesce(transport, SHARDS);
    expect(runs.get(poison.id)).toHaveLength(2);
    expect(await store.deadLetters.count()).toBe(1);
    expect((await store.deadLetters.list())[0]).toMatchObject({ id: poison.id, attempts: 2 });
    expect((await done(next))('job-c')).toEqual(['after']);
  });

  it('a handler that fails fewer than maxAttempts times is applied once and not dead-lettered', async () => {
    const { transport, producer, owner, observer } = await setup({ maxAttempts: 3, retryBackoffMs: 1 });
    await owner.start();
    const receipt = await producer.send('flaky', 'job-x', { label: 'f', failures: 2 });
    await producer.send('run', 'job-x', { label: 'next' });
    await quiesce(transport, SHARDS);
    expect(runs.get(receipt.id)).toHaveLength(3);
    expect((await done(owner))('job-x')).toEqual(['f', 'next']);
    expect(await owner.deadLetters.count()).toBe(0);
    expect(observer.count('flaky', 'ok')).toBe(1);
    expect(observer.count('flaky', 'failed')).toBe(0);
  });

  it('maxAttempts 1 means no retry', async () => {
    const { transport, producer, owner } = await setup({ maxAttempts: 1, retryBackoffMs: 1 });
    await owner.start();
    const receipt = await producer.send('flaky', 'job-y', { label: 'f', failures: 1 });
    await quiesce(transport, SHARDS);
    expect(runs.get(receipt.id)).toHaveLength(1);
    expect((await owner.deadLetters.list())[0]).toMatchObject({ id: receipt.id, attempts: 1 });
    expect((await owner.deadLetters.list())[0]!.error).toContain('transient f');
  });

  it('request() of a dead-lettered command rejects with CommandFailedError naming the command and the error', async () => {
    const { producer, owner } = await setup({ maxAttempts: 2, retryBackoffMs: 1 });
    await owner.start();
    const error = await producer.request('poison', 'job-z', { label: 'q' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CommandFailedError);
    expect(error).toBeInstanceOf(ShardlineError);
    const failed = error as CommandFailedError;
    expect(failed.code).toBe('COMMAND_FAILED');
    expect(failed.message).toContain('boom q');
    const letters = await owner.deadLetters.list();
    expect(letters).toHaveLength(1);
    expect(failed.commandId).toBe(letters[0]!.id);
    // The shard goes on serving requests.
    expect(await producer.request('run', 'job-z', { label: 'ok' })).toBe('ok');
  });
});

describe('a message the owner cannot decode goes to the dead-letter queue with a decode: reason', () => {
  it('each undecodable message is dead-lettered once, with attempts 0, and every valid message around it is applied in order', async () => {
    const { transport, owner, observer } = await setup({ maxAttempts: 3, retryBackoffMs: 1 });
    await transport.connect();
    const key = 'job-raw';
    const shard = shardOf(key, SHARDS);
    const valid = (label: string) => ({ key, value: encodeCommand({ id: `raw-${label}`, type: 'run', key, payload: { label }, sentAt: Date.now() }) });
    const bad = [
      { key, value: '{not json', reason: /^decode: not JSON/ },
      { key, value: '[1,2,3]', reason: /^decode: expected a JSON object, got array/ },
      { key, value: JSON.stringify({ type: 'run', key, payload: { label: 'x' }, sentAt: 1 }), reason: /^decode: expected id to be a non-empty string/ },
      { key, value: JSON.stringify({ id: 'raw-t', type: 'run', key, payload: { label: 'x' }, sentAt: 'now' }), reason: /^decode: expected sentAt to be a number/ },
      { key, value: encodeCommand({ id: 'raw-k', type: 'run', key: 'someone-else', payload: { label: 'x' }, sentAt: 1 }), reason: /^decode: command key "someone-else" differs/ },
      { key, value: encodeCommand({ id: 'raw-u', type: 'explode', key, payload: {}, sentAt: 1 }), reason: /^decode: unknown command type "explode"/ },
      { key, value: encodeCommand({ id: 'raw-p', type: 'run', key, payload: { label: 42 }, sentAt: 1 }), reason: /^decode: payload does not match the schema of run/ },
      { key, value: encodeCommand({ id: 'raw-h', type: 'hasOwnProperty', key, payload: {}, sentAt: 1 }), reason: /^decode: unknown command type "hasOwnProperty"/ },
    ];
    const messages = [valid('first')];
    bad.forEach((message, i) => messages.push({ key: message.key, value: message.value }, valid(`after-${i}`)));
    await transport.enqueue(shard, messages, { overflow: 'block', timeoutMs: 1_000, reserve: 0 });

    await owner.start();
    await quiesce(transport, SHARDS);
    const letters = await owner.deadLetters.list();
    expect(letters).toHaveLength(bad.length);
    letters.forEach((letter, i) => {
      expect(letter.error).toMatch(bad[i]!.reason);
      expect(letter.attempts).toBe(0);
      expect(letter.value).toBe(bad[i]!.value);
      expect(letter.shard).toBe(shard);
    });
    expect(letters.map((l) => l.position)).toEqual(bad.map((_, i) => 1 + 2 * i));
    expect((await done(owner))(key)).toEqual(['first', ...bad.map((_, i) => `after-${i}`)]);
    expect(observer.deadLetters).toHaveLength(bad.length);
    expect(await owner.store.status(shard)).toMatchObject({ position: messages.length - 1 });
  });
});
