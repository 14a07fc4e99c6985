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
    expect(error.reason).toContain('expected one of open, deposit, withdraw, transfer');
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

/** A payload whose reading throws: a getter on `field` of an otherwise plain object. */
function throwingGetter(field: string, rest: Record<string, unknown> = {}): Record<string, unknown> {
  return Object.defineProperty({ ...rest }, field, {
    enumerable: true,
    get() {
      throw new Error(`${field} cannot be read`);
    },
  });
}

function cycle(): Record<string, unknown> {
  const node: Record<string, unknown> = { name: 'loop' };
  node.self = node;
  return node;
}

const throwingToJSON = () => ({
  toJSON() {
    throw new Error('toJSON refuses');
  },
});

/** A domain whose payloads take anything the schema lets through, in two ways. */
const blobs = defineDomain({
  name: 'blobs',
  initial: (): { data: unknown } => ({ data: undefined }),
  commands: {
    put: z.object({ data: z.unknown() }),
    tag: z.record(z.string(), z.unknown()),
  },
}).handle({
  put: (_state, { data }) => ({ state: { data } }),
  tag: (_state, tags) => ({ state: { data: tags } }),
});

async function blobSetup() {
  const transport = new MemoryTransport({ shards: SHARDS, capacity: 64 });
  const producer = new Producer({ domain: blobs, transport });
  closers.push(() => transport.close(), () => producer.close());
  await producer.connect();
  return { transport, producer };
}

describe('a payload JSON cannot carry, or that throws when read: InvalidCommandError naming the field', () => {
  it.each([
    ['a BigInt', () => ({ data: 10n }), 'payload.data', /BigInt/],
    ['a BigInt deep inside', () => ({ data: { list: [1, { n: 2n }] } }), 'payload.data.list.1.n', /BigInt/],
    ['a cycle', () => ({ data: cycle() }), 'payload.data.self', /circular/],
    ['a throwing toJSON', () => ({ data: { inner: throwingToJSON() } }), 'payload.data.inner', /toJSON refuses/],
    ['a throwing getter', () => ({ data: throwingGetter('secret', { open: 1 }) }), 'payload.data.secret', /secret cannot be read/],
  ])('%s under a permissive schema (z.unknown)', async (_, payload, field, reason) => {
    const { transport, producer } = await blobSetup();
    const error = await invalid(producer.send('put', 'k', payload()), field);
    expect(error.reason).toMatch(reason);
    await invalid(producer.request('put', 'k', payload()), field);
    expect(await totalDepth(transport, SHARDS)).toBe(0);
  });

  it.each([
    ['a BigInt', () => ({ big: 10n }), 'payload.big', /BigInt/],
    ['a cycle', () => ({ loop: cycle() }), 'payload.loop.self', /circular/],
    ['a throwing getter', () => throwingGetter('sealed'), 'payload.sealed', /sealed cannot be read/],
  ])('%s under z.record', async (_, payload, field, reason) => {
    const { producer } = await blobSetup();
    const error = await invalid(producer.send('tag', 'k', payload()), field);
    expect(error.reason).toMatch(reason);
  });

  it.each([
    ['a BigInt', () => ({ amount: 10n }), /expected number/, /10n/],
    ['a cycle', () => ({ amount: cycle() }), /expected number/, /object/],
    ['a throwing toJSON', () => ({ amount: throwingToJSON() }), /expected number/, /object/],
    ['a throwing getter', () => throwingGetter('amount'), /amount cannot be read/, /amount cannot be read/],
  ])('%s under a strict schema: the schema error names the field and shows what it got', async (_, payload, expected, got) => {
    const { transport, producer } = await setup();
    const error = await invalid(producer.send('deposit', 'alice', payload() as never), 'payload.amount');
    expect(error.reason).toMatch(expected);
    expect(error.reason).toMatch(got);
    expect(await totalDepth(transport, SHARDS)).toBe(0);
  });

  it('a payload value too long to show is shown cut short', async () => {
    const { producer } = await setup();
    const error = await invalid(producer.send('transfer', 'alice', { to: 'x'.repeat(100_000), amount: 1 }), 'payload.to');
    expect(error.reason).toMatch(/<=1024/);
    expect(error.reason.length).toBeLessThan(1_000);
  });

  it('sendMany reports each such command at its index, sends the others, and the producer stays usable', async () => {
    const { transport, producer } = await blobSetup();
    const outcomes = await producer.sendMany([
      { type: 'put', key: 'a', payload: { data: 1 } },
      { type: 'put', key: 'b', payload: { data: 2n } },
      { type: 'tag', key: 'c', payload: { loop: cycle() } },
      { type: 'put', key: 'd', payload: { data: throwingGetter('x') } },
      { type: 'put', key: 'e', payload: { data: 'fine' } },
      null as never,
    ]);
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, false, false, true, false]);
    const fields = outcomes.map((o) => (o.ok ? undefined : (o.error as InvalidCommandError).field));
    expect(fields).toEqual([undefined, 'payload.data', 'payload.loop.self', 'payload.data.x', undefined, 'command']);
    for (const outcome of outcomes) if (!outcome.ok) expect(outcome.error).toBeInstanceOf(InvalidCommandError);
    await invalid(producer.sendMany('not a list' as never), 'commands');
    await producer.send('put', 'f', { data: { still: 'working' } });
    expect(await totalDepth(transport, SHARDS)).toBe(3);

    const owner = new Owner({ domain: blobs, transport });
    closers.push(() => owner.close());
    await owner.start();
    await quiesce(transport, SHARDS);
    const state = await entries<{ data: unknown }>(owner.store);
    expect(Object.fromEntries([...state].map(([key, value]) => [key, value.data]))).toEqual({ a: 1, e: 'fine', f: { still: 'working' } });
  });
});

describe('keys that are not well-formed UTF-16 are refused: stores would merge them', () => {
  it.each([
    ['a lone high surrogate', '\uD800x', '\\ud800'],
    ['a lone low surrogate', 'x\uDC00', '\\udc00'],
    ['a reversed pair', '\uDC00\uD800', '\\udc00'],
  ])('%s: field "key", showing the code unit', async (_, key, shown) => {
    const { transport, producer } = await setup();
    const error = await invalid(producer.send('deposit', key, { amount: 5 }), 'key');
    expect(error.reason).toMatch(/well-formed UTF-16/);
    expect(error.reason).toContain(shown);
    await invalid(producer.request('deposit', key, { amount: 5 }), 'key');
    const [outcome] = await producer.sendMany([{ type: 'deposit', key, payload: { amount: 5 } }]);
    expect(outcome).toMatchObject({ ok: false, error: { field: 'key' } });
    // A pair in the right order is one character, and welcome.
    await producer.send('deposit', 'emoji \uD83D\uDE00', { amount: 5 });
    expect(await totalDepth(transport, SHARDS)).toBe(1);
  });
});
