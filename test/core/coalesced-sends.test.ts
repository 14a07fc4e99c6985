import { afterEach, describe, expect, it } from 'vitest';
import { InvalidCommandError, QueueFullError } from '../../src/core/errors.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';
import type { EnqueueOptions, EnqueueResult, TransportMessage } from '../../src/transports/transport.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import { entries, keysOnShard, lists, quiesce, TransportDecorator } from './helpers.ts';

const SHARDS = 2;
const closers: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** The memory transport, recording the size of every enqueue per shard. */
class CountingTransport extends TransportDecorator<MemoryTransport> {
  readonly enqueues: { shard: number; size: number }[] = [];

  constructor(capacity = 64) {
    super('counting-memory', new MemoryTransport({ shards: SHARDS, capacity }));
  }

  override enqueue(shard: number, messages: readonly TransportMessage[], options: EnqueueOptions): Promise<EnqueueResult> {
    this.enqueues.push({ shard, size: messages.length });
    return super.enqueue(shard, messages, options);
  }
}

async function setup(options: { capacity?: number; overflow?: 'block' | 'reject' } = {}) {
  const transport = new CountingTransport(options.capacity);
  const producer = new Producer({ domain: lists, transport, followUpReserve: 0, overflow: options.overflow ?? 'block' });
  closers.push(() => transport.close(), () => producer.close());
  await producer.connect();
  return { transport, producer };
}

const [KEY_A, KEY_B] = keysOnShard(0, SHARDS, 2, 'list-') as [string, string];

describe('send() calls made in the same turn to one shard are coalesced into one enqueue', () => {
  it('one enqueue for all of them, each caller with its own receipt, in call order', async () => {
    const { transport, producer } = await setup();
    const receipts = await Promise.all(Array.from({ length: 10 }, (_, i) => producer.send('append', i % 2 === 0 ? KEY_A : KEY_B, { item: `i${i}` })));
    expect(transport.enqueues).toEqual([{ shard: 0, size: 10 }]);
    expect(new Set(receipts.map((receipt) => receipt.id)).size).toBe(10);
    expect(receipts.map((receipt) => receipt.shard)).toEqual(Array.from({ length: 10 }, () => 0));
    const seqs = receipts.map((receipt) => receipt.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(await transport.depth(0)).toBe(10);
  });

  it('a bad payload fails only its own caller, with InvalidCommandError; the others go out in one enqueue', async () => {
    const { transport, producer } = await setup();
    const outcomes = await Promise.allSettled([
      producer.send('append', KEY_A, { item: 'one' }),
      producer.send('append', KEY_A, { item: '' }),
      producer.send('append', KEY_A, { item: 'three' }),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const error = (outcomes[1] as PromiseRejectedResult).reason as InvalidCommandError;
    expect(error).toBeInstanceOf(InvalidCommandError);
    expect(error.field).toBe('payload.item');
    expect(transport.enqueues).toEqual([{ shard: 0, size: 2 }]);
  });

  it('a refused enqueue fails every caller in it with QueueFullError, and none of them is enqueued', async () => {
    const { transport, producer } = await setup({ capacity: 4, overflow: 'reject' });
    await Promise.all([producer.send('append', KEY_A, { item: 'x' }), producer.send('append', KEY_A, { item: 'y' })]);
    const outcomes = await Promise.allSettled(Array.from({ length: 3 }, (_, i) => producer.send('append', KEY_B, { item: `z${i}` })));
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(QueueFullError);
      expect((outcome as PromiseRejectedResult).reason).toMatchObject({ code: 'QUEUE_FULL', shard: 0, capacity: 4 });
    }
    expect(transport.enqueues).toEqual([{ shard: 0, size: 2 }, { shard: 0, size: 3 }]);
    expect(await transport.depth(0)).toBe(2);
  });

  it('keeps each key\'s order across coalesced enqueues, as the owner applies them', async () => {
    const { transport, producer } = await setup();
    const owner = new Owner({ domain: lists, transport, store: new MemoryStateStore() });
    closers.push(() => owner.close());
    await owner.start();
    const items = Array.from({ length: 200 }, (_, i) => `n${i}`);
    await Promise.all(items.map((item, i) => producer.send('append', i % 2 === 0 ? KEY_A : KEY_B, { item })));
    await quiesce(transport, SHARDS);
    const state = await entries<{ items: string[] }>(owner.store);
    expect(state.get(KEY_A)!.items).toEqual(items.filter((_, i) => i % 2 === 0));
    expect(state.get(KEY_B)!.items).toEqual(items.filter((_, i) => i % 2 === 1));
    expect(transport.enqueues.length).toBeLessThan(items.length);
  });
});
