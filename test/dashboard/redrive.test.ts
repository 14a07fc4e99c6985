// Redrive on the memory transport and store, in one process: a requeued dead letter goes
// through the bounded enqueue with an identity of its own, so requeuing it twice applies
// it once; the letter records who requeued or discarded it and when.
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineDomain } from '../../src/core/domain.ts';
import { TimeoutError } from '../../src/core/errors.ts';
import { discardDeadLetters, RedriveError, requeueDeadLetters, type RedriveTarget } from '../../src/dashboard/redrive.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { deadLetterId } from '../../src/state/dead-letters.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import { keysOnShard, quiesce } from '../core/helpers.ts';

/** `fragile` throws until `fixed`; `add` never does. */
let fixed = false;
const tallies = defineDomain({
  name: 'tallies',
  initial: () => ({ value: 0, fragile: 0 }),
  commands: { add: z.object({ by: z.number().int() }), fragile: z.object({ by: z.number().int() }) },
}).handle({
  add: (state, { by }) => ({ state: { ...state, value: state.value + by }, reply: null }),
  fragile: (state, { by }) => {
    if (!fixed) throw new Error('not fixed yet');
    return { state: { ...state, fragile: state.fragile + by }, reply: null };
  },
});

const SHARDS = 2;
const CAPACITY = 16;
const closers: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  fixed = false;
});

async function setup() {
  const transport = new MemoryTransport({ shards: SHARDS, capacity: CAPACITY });
  const store = new MemoryStateStore();
  const producer = new Producer({ domain: tallies, transport });
  const owner = new Owner({ domain: tallies, transport, store, maxAttempts: 1 });
  closers.push(() => transport.close(), () => producer.close(), () => owner.close());
  const info = await transport.connect();
  const target: RedriveTarget = { transport, info, enqueueTimeoutMs: 1_000 };
  const state = async (key: string) => (await store.read(0, key)).state ?? (await store.read(1, key)).state;
  return { transport, store, producer, owner, target, state };
}

describe('requeue', () => {
  it('applies a dead letter once after the handler is fixed, however often it is requeued, and records who and when', async () => {
    const { transport, store, producer, owner, target, state } = await setup();
    const [key] = keysOnShard(1, SHARDS, 1);
    await owner.start();
    await producer.send('fragile', key!, { by: 5 });
    await quiesce(transport, SHARDS);
    const [letter] = await store.deadLetters.list();
    expect(letter).toMatchObject({ shard: 1, type: 'fragile', key, error: 'Error: not fixed yet' });
    const id = deadLetterId(letter!);
    expect(id).toBe(`1-${letter!.position}`);

    fixed = true;
    const first = await requeueDeadLetters(store.deadLetters, target, { id }, 'ops@a', () => 1_000);
    const second = await requeueDeadLetters(store.deadLetters, target, { id }, 'ops@b', () => 2_000);
    expect([first, second]).toEqual([
      { action: 'requeued', letters: [id] },
      { action: 'requeued', letters: [id] },
    ]);
    await quiesce(transport, SHARDS);

    expect(await state(key!)).toEqual({ value: 0, fragile: 5 });
    expect(await store.deadLetters.count()).toBe(1);
    expect((await store.deadLetters.list())[0]!.redrive).toEqual({ action: 'requeued', by: 'ops@b', at: 2_000 });
  });

  it('--all requeues only pending letters of the type and shard asked for', async () => {
    const { transport, store, producer, owner, target, state } = await setup();
    const [a] = keysOnShard(0, SHARDS, 1);
    const [b] = keysOnShard(1, SHARDS, 1);
    await owner.start();
    await producer.send('fragile', a!, { by: 1 });
    await producer.send('fragile', b!, { by: 2 });
    await quiesce(transport, SHARDS);
    fixed = true;

    const onShard0 = await requeueDeadLetters(store.deadLetters, target, { all: true, type: 'fragile', shard: 0 }, 'ops');
    expect(onShard0.letters).toEqual([expect.stringMatching(/^0-/)]);
    expect(await requeueDeadLetters(store.deadLetters, target, { all: true, type: 'add' }, 'ops')).toEqual({ action: 'requeued', letters: [] });
    const rest = await requeueDeadLetters(store.deadLetters, target, { all: true }, 'ops');
    expect(rest.letters).toEqual([expect.stringMatching(/^1-/)]);
    await quiesce(transport, SHARDS);
    expect(await state(a!)).toEqual({ value: 0, fragile: 1 });
    expect(await state(b!)).toEqual({ value: 0, fragile: 2 });
  });

  it('waits for room like a producer and gives up with TimeoutError when the shard stays full, recording nothing', async () => {
    const { transport, store, producer, owner, target } = await setup();
    const [key] = keysOnShard(0, SHARDS, 1);
    await owner.start();
    await producer.send('fragile', key!, { by: 1 });
    await quiesce(transport, SHARDS);
    await owner.close();
    for (let i = 0; i < CAPACITY - CAPACITY / 8; i++) await producer.send('add', key!, { by: 1 });

    const id = deadLetterId((await store.deadLetters.list())[0]!);
    await expect(requeueDeadLetters(store.deadLetters, { ...target, enqueueTimeoutMs: 50 }, { id }, 'ops')).rejects.toBeInstanceOf(TimeoutError);
    expect((await store.deadLetters.list())[0]!.redrive).toBeUndefined();
    expect(await transport.depth(0)).toBe(CAPACITY - CAPACITY / 8);
  });

  it('refuses an unknown id, a discarded letter, and a letter that never decoded, naming what was wrong', async () => {
    const { transport, store, target } = await setup();
    await expect(requeueDeadLetters(store.deadLetters, target, { id: '9-9' }, 'ops')).rejects.toThrow(
      'redrive refused: expected the id of one of the newest 10000 dead letters (shard-position, e.g. 3-17), got "9-9"',
    );
    store.deadLetters.push({ shard: 0, position: 4, value: 'not json', error: 'decode: not JSON', attempts: 0, failedAt: 1 });
    await expect(requeueDeadLetters(store.deadLetters, target, { id: '0-4' }, 'ops')).rejects.toThrow(/dead letter 0-4 is not a command that can be sent again \(not JSON: /);
    expect(await requeueDeadLetters(store.deadLetters, target, { all: true }, 'ops')).toEqual({ action: 'requeued', letters: [] });

    await discardDeadLetters(store.deadLetters, { id: '0-4' }, 'ops@c', () => 7);
    expect((await store.deadLetters.list())[0]!.redrive).toEqual({ action: 'discarded', by: 'ops@c', at: 7 });
    const refused = await requeueDeadLetters(store.deadLetters, target, { id: '0-4' }, 'ops').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RedriveError);
    expect(refused).toMatchObject({ code: 'REDRIVE_REFUSED', message: 'redrive refused: dead letter 0-4 was discarded by ops@c' });
    expect(await transport.depth(0)).toBe(0);
  });
});

describe('discard', () => {
  it('marks pending letters discarded and refuses one already requeued', async () => {
    const { transport, store, producer, owner, target } = await setup();
    const [a, b] = keysOnShard(0, SHARDS, 2);
    await owner.start();
    await producer.send('fragile', a!, { by: 1 });
    await producer.send('fragile', b!, { by: 1 });
    await quiesce(transport, SHARDS);
    const [first, second] = (await store.deadLetters.list()).map(deadLetterId);

    await requeueDeadLetters(store.deadLetters, target, { id: first! }, 'ops');
    await quiesce(transport, SHARDS);
    await expect(discardDeadLetters(store.deadLetters, { id: first! }, 'ops')).rejects.toThrow(`dead letter ${first} was requeued by ops; it cannot be discarded`);
    const discarded = await discardDeadLetters(store.deadLetters, { all: true }, 'ops@d');
    expect(discarded.letters).toContain(second);
    const statuses = (await store.deadLetters.list()).map((letter) => [deadLetterId(letter), letter.redrive?.action ?? 'pending']);
    expect(statuses.slice(0, 2)).toEqual([
      [first, 'requeued'],
      [second, 'discarded'],
    ]);
  });
});
