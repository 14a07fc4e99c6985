import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineDomain } from '../../src/core/domain.ts';
import { InvalidCommandError, ShardlineError } from '../../src/core/errors.ts';
import { accounts } from '../../src/domains/accounts.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import { entries, quiesce, totalDepth } from './helpers.ts';

const SHARDS = 4;
const closers: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** A producer with no owner running, so that whatever it enqueues stays visible as depth. */
async function setup(options: { maxCommandBytes?: number } = {}) {
  const transport = new MemoryTransport({ shards: SHARDS, capacity: 64 });
  const producer = new Producer({ domain: accounts, transport, ...options });
  closers.push(() => transport.close(), () => producer.close());
  await producer.connect();
  return { transport, producer };
}

/** Asserts `promise` rejects with an InvalidCommandError about `field`, and returns it. */
async function invalid(promise: Promise<unknown>, field: string): Promise<InvalidCommandError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidCommandError);
  expect(error).toBeInstanceOf(ShardlineError);
  const invalidError = error as InvalidCommandError;
  expect(invalidError.code).toBe('INVALID_COMMAND');
  expect(invalidError.retriable).toBe(false);
  expect(invalidError.field).toBe(field);
  expect(invalidError.message).toContain(field);
  expect(invalidError.message).toContain(invalidError.reason);
  return invalidError;
}

describe('bad input is refused at the producer with InvalidCommandError and never enqueued', () => {
  it('an unknown command type: field "type", naming the type it got and the types it expected', async () => {
    const { transport, producer } = await setup();
    const error = await invalid(producer.send('steal' as never, 'alice', { amount: 5 } as never), 'type');
    expect(error.reason).toContain('"steal"');
    for (const known of ['open', 'deposit', 'withdraw', 'transfer', 'credit', 'refund']) expect(error.reason).toContain(known);
    // A name inherited from Object.prototype is not a command type either.
    await invalid(producer.send('toString' as never, 'alice', {} as never), 'type');
    await invalid(producer.send('__proto__' as never, 'alice', {} as never), 'type');
    expect(await totalDepth(transport, SHARDS)).toBe(0);
  });

  it('a payload that fails its schema: field is the path of the wrong value, the reason says what was expected and what was got', async () => {
    const { transport, producer } = await setup();

    const wrongType = await invalid(producer.send('deposit', 'alice', { amount: '5' } as never), 'payload.amount');
    expect(wrongType.reason).toMatch(/expected number/);
    expect(wrongType.reason).toMatch(/string/);

    const missing = await invalid(producer.send('transfer', 'alice', { amount: 5 } as never), 'payload.to');
    expect(missing.reason).toMatch(/expected string/);
    expect(missing.reason).toMatch(/undefined/);

    const notAnObject = await invalid(producer.send('deposit', 'alice', 5 as never), 'payload');
    expect(notAnObject.reason).toMatch(/expected object/);
    expect(notAnObject.reason).toMatch(/number/);

    expect(await totalDepth(transport, SHARDS)).toBe(0);
  });

  it('a payload value out of range: the reason names the value it got, not only the bound', async () => {
    const { transport, producer } = await setup();
    const negative = await invalid(producer.send('deposit', 'alice', { amount: -5 }), 'payload.amount');
    expect(negative.reason).toMatch(/expected number to be >0/);
    expect(negative.reason).toContain('-5');

    const fractional = await invalid(producer.send('withdraw', 'alice', { amount: 1.5 }), 'payload.amount');
    expect(fractional.reason).toMatch(/expected int/);
    expect(fractional.reason).toContain('1.5');
    expect(await totalDepth(transport, SHARDS)).toBe(0);
  });

  it.each([
    ['a number', 42, 'got number'],
    ['the empty string', '', 'got ""'],
    ['undefined', undefined, 'got undefined'],
    ['null', null, 'got null'],
  ])('a key that is %s: field "key", expected a non-empty string', async (_, key, got) => {
    const { transport, producer } = await setup();
    const error = await invalid(producer.send('deposit', key as unknown as string, { amount: 5 }), 'key');
    expect(error.reason).toContain('expected a non-empty string');
    expect(error.reason).toContain(got);
    await invalid(producer.request('deposit', key as unknown as string, { amount: 5 }), 'key');
    expect(await totalDepth(transport, SHARDS)).toBe(0);
  });

  it('a key longer than the maximum: field "key", naming the limit and the length it got', async () => {
    const { transport, producer } = await setup();
    const error = await invalid(producer.send('deposit', 'k'.repeat(5_000), { amount: 5 }), 'key');
    expect(error.reason).toContain('5000');
    expect(await totalDepth(transport, SHARDS)).toBe(0);
  });

  it('an encoded command over maxCommandBytes: field "size", naming the size it got and the limit', async () => {
    const { transport, producer } = await setup({ maxCommandBytes: 400 });
    const error = await invalid(producer.send('transfer', 'alice', { to: 'b'.repeat(600), amount: 5 }), 'size');
    expect(error.reason).toContain('maxCommandBytes 400');
    const got = Number(/(\d+) bytes/.exec(error.reason)?.[1]);
    expect(got).toBeGreaterThan(400);

    // Multi-byte characters count in UTF-8 bytes: 150 '€' are 150 UTF-16 units but 450 bytes.
    const euro = await invalid(producer.send('transfer', 'alice', { to: '€'.repeat(150), amount: 5 }), 'size');
    expect(Number(/(\d+) bytes/.exec(euro.reason)?.[1])).toBeGreaterThan(450);

    // Just under the limit is accepted, so the bound is the limit and not something smaller.
    await producer.send('transfer', 'alice', { to: 'b'.repeat(200), amount: 5 });
    expect(await totalDepth(transport, SHARDS)).toBe(1);
  });

  it('request() of a bad command rejects the same way and leaves nothing waiting', async () => {
    const { transport, producer } = await setup();
    await invalid(producer.request('deposit', 'alice', { amount: 0 }), 'payload.amount');
    await invalid(producer.request('nope' as never, 'alice', {} as never), 'type');
    expect(await totalDepth(transport, SHARDS)).toBe(0);
  });

  it('sendMany: the valid commands are enqueued and applied, each invalid one is reported at its index', async () => {
    const { transport, producer } = await setup({ maxCommandBytes: 400 });
    const outcomes = await producer.sendMany([
      { type: 'open', key: 'alice', payload: { initialBalance: 100 } },
      { type: 'deposit', key: 'alice', payload: { amount: -1 } },
      { type: 'open', key: 'bob', payload: {} },
      { type: 'deposit', key: '', payload: { amount: 5 } },
      { type: 'deposit', key: 'alice', payload: { amount: 7 } },
      { type: 'nope', key: 'alice', payload: {} } as never,
      { type: 'transfer', key: 'alice', payload: { to: 'bob', amount: 30 } },
      { type: 'transfer', key: 'alice', payload: { to: 'x'.repeat(600), amount: 1 } },
    ]);
    expect(outcomes).toHaveLength(8);
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, true, false, true, false, true, false]);
    const fields = outcomes.map((o) => (o.ok ? undefined : (o.error as InvalidCommandError).field));
    expect(fields).toEqual([undefined, 'payload.amount', undefined, 'key', undefined, 'type', undefined, 'size']);
    for (const outcome of outcomes) if (!outcome.ok) expect(outcome.error).toBeInstanceOf(InvalidCommandError);
    const ids = outcomes.flatMap((o) => (o.ok ? [o.id] : []));
    expect(new Set(ids).size).toBe(4);
    expect(await totalDepth(transport, SHARDS)).toBe(4);

    const owner = new Owner({ domain: accounts, transport });
    closers.push(() => owner.close());
    await owner.start();
    await quiesce(transport, SHARDS);
    const state = await entries<{ open: boolean; balance: number }>(owner.store);
    expect(state.get('alice')).toEqual({ open: true, balance: 100 + 7 - 30 });
    expect(state.get('bob')).toEqual({ open: true, balance: 30 });
    expect(await owner.deadLetters.count()).toBe(0);
  });
});

/** A domain whose payload field takes anything the schema lets through. */
const blobs = defineDomain({
  name: 'blobs',
  initial: (): { data: unknown } => ({ data: undefined }),
  commands: { put: z.object({ data: z.unknown() }) },
}).handle({
  put: (_state, { data }) => ({ state: { data } }),
});

describe('a payload the schema accepts but JSON cannot carry', () => {
  it('a BigInt or a cycle is refused with field "payload", never enqueued', async () => {
    const transport = new MemoryTransport({ shards: SHARDS, capacity: 64 });
    const producer = new Producer({ domain: blobs, transport });
    closers.push(() => transport.close(), () => producer.close());
    const big = await invalid(producer.send('put', 'k', { data: 10n }), 'payload');
    expect(big.reason).toMatch(/JSON/);
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const loop = await invalid(producer.send('put', 'k', { data: cyclic }), 'payload');
    expect(loop.reason).toMatch(/JSON/);
    expect(await totalDepth(transport, SHARDS)).toBe(0);
  });
});
