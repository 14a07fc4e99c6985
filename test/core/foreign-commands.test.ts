/**
 * What the owner does with commands no shardline producer of this process checked: a
 * foreign writer puts encoded commands straight onto the queue (any program with broker
 * access can), and handlers emit follow-ups. Too large, an ill-formed key, or a follow-up
 * that could not travel: dead-lettered with the reason, never applied, and the shard moves on.
 */
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { openRedis } from '../../src/common/redis.ts';
import { defineDomain } from '../../src/core/domain.ts';
import { shardOf } from '../../src/core/router.ts';
import { accounts } from '../../src/domains/accounts.ts';
import { ownerSettingsSchema, producerSettingsSchema } from '../../src/runtime/options.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { RedisStateStore } from '../../src/state/redis-store.ts';
import type { StateStore } from '../../src/state/state-store.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import { startRedis } from '../support/redis.ts';
import { counters, entries, quiesce, RecordingObserver } from './helpers.ts';

const SHARDS = 4;
const closers: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

let nextId = 0;

/** Writes one encoded command onto its shard's queue as another program would: no producer, no checks. */
async function writeRaw(transport: MemoryTransport, command: { type: string; key: string; payload: unknown }): Promise<string> {
  const value = JSON.stringify({ id: `foreign-${nextId++}`, sentAt: Date.now(), ...command });
  await transport.enqueue(shardOf(command.key, SHARDS), [{ key: command.key, value }], { overflow: 'block', timeoutMs: 5_000, reserve: 0 });
  return value;
}

function start<D extends typeof accounts | typeof counters | typeof relay | typeof picky>(
  domain: D,
  options: { maxCommandBytes?: number; store?: StateStore } = {},
) {
  const transport = new MemoryTransport({ shards: SHARDS, capacity: 64 });
  const observer = new RecordingObserver();
  const owner = new Owner({ domain, transport, observer, maxAttempts: 1, ...options });
  const producer = new Producer({ domain, transport });
  closers.push(() => transport.close(), () => owner.close(), () => producer.close());
  return { transport, observer, owner, producer };
}

describe('an owner dead-letters a delivered command larger than its maxCommandBytes', () => {
  it('defaults to the producer limit', () => {
    expect(ownerSettingsSchema.parse({}).maxCommandBytes).toBe(producerSettingsSchema.parse({}).maxCommandBytes);
  });

  it('a foreign 5 MB deposit is not applied; the dead letter keeps a sample, not 5 MB; the next command is applied', async () => {
    const { transport, observer, owner, producer } = start(accounts);
    await owner.start();
    await producer.request('open', 'alice', { initialBalance: 10 });
    const value = await writeRaw(transport, { type: 'deposit', key: 'alice', payload: { amount: 1_000_000, note: 'x'.repeat(5_000_000) } });
    await producer.request('deposit', 'alice', { amount: 1 });
    await quiesce(transport, SHARDS);

    expect((await entries<{ balance: number }>(owner.store)).get('alice')).toEqual({ open: true, balance: 11 });
    const [letter, ...others] = await owner.deadLetters.list();
    expect(others).toEqual([]);
    expect(letter!.error).toBe(`too large: ${Buffer.byteLength(value)} bytes, over maxCommandBytes 65536`);
    expect(letter!.value).toBe(value.slice(0, 1024));
    expect(observer.deadLetters).toHaveLength(1);
  });

  it('measures UTF-8 bytes exactly near the limit, multi-byte characters included', async () => {
    const { transport, owner } = start(counters, { maxCommandBytes: 1_000 });
    await owner.start();
    const sizes: Record<string, number> = {};
    for (const [key, note] of [['ascii-under', 'a'.repeat(500)], ['ascii-over', 'a'.repeat(950)], ['euro-under', '€'.repeat(280)], ['euro-over', '€'.repeat(320)]] as const) {
      sizes[key] = Buffer.byteLength(await writeRaw(transport, { type: 'add', key, payload: { by: 1, note } }));
    }
    // Each is over the cheap bound (3 bytes per UTF-16 unit); only the exact count decides.
    expect(sizes['ascii-under']! * 3).toBeGreaterThan(1_000);
    expect(sizes['ascii-under']).toBeLessThanOrEqual(1_000);
    expect(sizes['euro-under']).toBeLessThanOrEqual(1_000);
    expect(sizes['ascii-over']).toBeGreaterThan(1_000);
    expect(sizes['euro-over']).toBeGreaterThan(1_000);
    await quiesce(transport, SHARDS);

    expect([...(await entries(owner.store)).keys()].sort()).toEqual(['ascii-under', 'euro-under']);
    const letters = await owner.deadLetters.list();
    expect(letters.map((l) => l.error).sort()).toEqual([
      `too large: ${sizes['ascii-over']} bytes, over maxCommandBytes 1000`,
      `too large: ${sizes['euro-over']} bytes, over maxCommandBytes 1000`,
    ].sort());
  });
});

describe('an owner dead-letters a delivered command nested too deeply to describe', () => {
  it('a 20 KB foreign value whose fields are 5,000 arrays deep is dead-lettered, and the shard moves on', async () => {
    const { transport, owner, producer } = start(accounts);
    await owner.start();
    await producer.request('open', 'alice', { initialBalance: 10 });
    const deep = `${'['.repeat(5_000)}${']'.repeat(5_000)}`;
    const shard = shardOf('alice', SHARDS);
    for (const field of ['id', 'sentAt', 'replyTo', 'origin']) {
      const fields = { id: '"deep"', type: '"deposit"', key: '"alice"', payload: '{"amount":1}', sentAt: '1', ...(field === 'origin' ? { seq: '1' } : {}), [field]: deep };
      const value = `{${Object.entries(fields).map(([name, json]) => `"${name}":${json}`).join(',')}}`;
      await transport.enqueue(shard, [{ key: 'alice', value }], { overflow: 'block', timeoutMs: 5_000, reserve: 0 });
    }
    await producer.request('deposit', 'alice', { amount: 1 });
    await quiesce(transport, SHARDS);

    expect((await entries<{ balance: number }>(owner.store)).get('alice')).toEqual({ open: true, balance: 11 });
    const letters = await owner.deadLetters.list();
    expect(letters.map((l) => l.error).sort()).toEqual([
      'decode: expected id to be a non-empty string, got array (not JSON)',
      'decode: expected origin to be a string and seq a safe integer >= 0, got array (not JSON) and 1',
      'decode: expected replyTo to be a string, got array (not JSON)',
      'decode: expected sentAt to be a number, got array (not JSON)',
    ]);
  });
});

describe('an owner dead-letters a delivered command whose key is not well-formed UTF-16', () => {
  it('from a foreign writer: lone surrogates are not applied, a surrogate pair is', async () => {
    const { transport, owner } = start(counters);
    await owner.start();
    for (const key of ['\uD800x', '\uDC00x', 'pair \uD83D\uDE00']) await writeRaw(transport, { type: 'add', key, payload: { by: 1 } });
    await quiesce(transport, SHARDS);
    expect([...(await entries(owner.store)).keys()]).toEqual(['pair \uD83D\uDE00']);
    const letters = await owner.deadLetters.list();
    expect(letters.map((l) => l.error)).toEqual([
      'decode: key is not well-formed UTF-16: a lone surrogate \\ud800 at index 0',
      'decode: key is not well-formed UTF-16: a lone surrogate \\udc00 at index 0',
    ]);
  });
});

/**
 * `forward` emits `keep` with its data to the key it names (with `big`, the data is that
 * number as a BigInt, which no producer could send); `keep` stores it.
 */
const relay = defineDomain({
  name: 'relay',
  initial: (): { data: unknown } => ({ data: null }),
  commands: {
    forward: z.object({ to: z.string(), data: z.unknown(), big: z.string().optional() }),
    keep: z.object({ data: z.unknown() }),
  },
}).handle({
  forward(state, { to, data, big }, ctx) {
    ctx.emit('keep', to, { data: big === undefined ? data : { deep: [BigInt(big)] } });
    return { state };
  },
  keep: (_state, { data }) => ({ state: { data } }),
});

describe('ctx.emit refuses what could not travel: the handler fails, nothing is emitted', () => {
  it.each([
    ['a key with a lone surrogate', { to: '\uD800x', data: 1 }, /InvalidCommandError: invalid command: key: emit "keep": expected well-formed UTF-16/],
    ['a payload JSON cannot carry', { to: 'target', data: null, big: '1' }, /InvalidCommandError: invalid command: payload\.data\.deep\.0: emit "keep": got the BigInt 1n/],
    ['a payload over maxCommandBytes', { to: 'target', data: 'x'.repeat(2_000) }, /InvalidCommandError: invalid command: size: emit "keep": encoded command is \d+ bytes, over maxCommandBytes 1500/],
  ])('%s', async (_, payload, error) => {
    const { transport, owner, producer } = start(relay, { maxCommandBytes: 1_500 });
    await owner.start();
    // The producer's own limit is the default: the forward itself is accepted.
    const forward = await producer.send('forward', 'source', payload);
    await producer.send('forward', 'source', { to: 'target', data: 'fine' });
    await quiesce(transport, SHARDS);
    const letters = await owner.deadLetters.list();
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ id: forward.id, type: 'forward', attempts: 1 });
    expect(letters[0]!.error).toMatch(error);
    expect(Object.fromEntries(await entries(owner.store))).toEqual({ target: { data: 'fine' } });
  });
});

/** A domain whose own code throws on some input: a refinement for 13, the initial state for `cursed`. */
const picky = defineDomain({
  name: 'picky',
  initial: (key: string): { n: number } => {
    if (key === 'cursed') throw new Error('no initial state for cursed');
    return { n: 0 };
  },
  commands: {
    set: z.object({ n: z.number() }).refine((value) => {
      if (value.n === 13) throw new Error('unlucky');
      return true;
    }),
  },
}).handle({
  set: (_state, { n }) => ({ state: { n } }),
});

describe('a schema or an initial state that throws does not lose the command', () => {
  it('it is dead-lettered with the error (not skipped as a duplicate on redelivery), and the commands after it are applied', async () => {
    const { transport, observer, owner, producer } = start(picky);
    await owner.start();
    await writeRaw(transport, { type: 'set', key: 'k', payload: { n: 13 } });
    await producer.send('set', 'cursed', { n: 1 });
    await producer.send('set', 'k', { n: 2 });
    await quiesce(transport, SHARDS);
    expect(Object.fromEntries(await entries(owner.store))).toEqual({ k: { n: 2 } });
    const letters = await owner.deadLetters.list();
    expect(letters.map((l) => l.error).sort()).toEqual([
      'decode: checking the payload against the schema of set threw Error: unlucky',
      'initial state of key "cursed" threw Error: no initial state for cursed',
    ]);
    expect(observer.count('set', 'failed')).toBe(2);
    expect(observer.count('set', 'duplicate')).toBe(0);
  });
});

const redis = await startRedis();

describe.skipIf(redis === undefined)('with the Redis store, where keys are written as UTF-8', () => {
  let client: Redis;

  beforeAll(async () => {
    client = await openRedis(redis!.url, 'test');
  });

  afterAll(async () => {
    await client?.quit();
    await redis!.close();
  });

  it('\\uD800x and \\uDC00x are never applied, so they cannot share one entity', async () => {
    const store = new RedisStateStore({ client, domain: 'counters', prefix: 'ill-formed' });
    const { transport, owner } = start(counters, { store });
    await owner.start();
    await writeRaw(transport, { type: 'add', key: '\uD800x', payload: { by: 1 } });
    await writeRaw(transport, { type: 'add', key: '\uDC00x', payload: { by: 10 } });
    await writeRaw(transport, { type: 'add', key: 'x', payload: { by: 100 } });
    await quiesce(transport, SHARDS);
    expect(Object.fromEntries(await entries(store))).toEqual({ x: { value: 100 } });
    expect(await store.deadLetters.count()).toBe(2);
  });
});

describe('an owner dead-letters a command written onto a shard its key does not belong to', () => {
  it('leaves the entity to its own shard: one writer per entity, even against a foreign writer', async () => {
    const { transport, owner, producer } = start(counters);
    await owner.start();
    await producer.request('add', 'k', { by: 1 });
    const home = shardOf('k', SHARDS);
    const elsewhere = (home + 1) % SHARDS;
    const value = JSON.stringify({ id: 'foreign-wrong-shard', sentAt: Date.now(), type: 'add', key: 'k', payload: { by: 100 } });
    await transport.enqueue(elsewhere, [{ key: 'k', value }], { overflow: 'block', timeoutMs: 5_000, reserve: 0 });
    await producer.request('add', 'k', { by: 1 });
    await quiesce(transport, SHARDS);

    expect((await entries<{ value: number }>(owner.store)).get('k')).toEqual({ value: 2 });
    const letters = await owner.deadLetters.list();
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ shard: elsewhere, key: 'k', error: `foreign: key "k" belongs to shard ${home} of ${SHARDS}, delivered on shard ${elsewhere}` });
  });
});
