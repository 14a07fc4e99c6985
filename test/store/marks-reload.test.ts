import { afterEach, describe, expect, it } from 'vitest';
import { encodeCommand, type Command } from '../../src/core/command.ts';
import { accounts, type Account } from '../../src/domains/accounts.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import { until } from '../support/processes.ts';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const command = (id: string, type: 'open' | 'deposit', payload: object, origin: string, seq: number): Command => ({ id, type, key: 'acct', payload, sentAt: 1, origin, seq });

describe('origin marks across an owner restart', () => {
  it('an origin forgotten and met again in one batch keeps its mark, so its resend after a restart is a duplicate, not a second deposit', async () => {
    const broker = MemoryTransport.broker({ shards: 1, capacity: 64 });
    const store = new MemoryStateStore();
    const producer = new MemoryTransport({ broker });
    await producer.connect();
    closers.push(() => producer.close());
    const batches: number[] = [];
    const duplicates: string[] = [];
    const run = async (position: number) => {
      const transport = new MemoryTransport({ broker });
      // Two origins tracked at most: a third makes the owner forget the least recently seen.
      const owner = new Owner({ domain: accounts, transport, store, maxOrigins: 2, observer: {
        batch: (_shard, size) => batches.push(size),
        applied: (type, outcome) => outcome === 'duplicate' && duplicates.push(type),
      } });
      await owner.start();
      await until(`position ${position} committed`, async () => (await store.status(0)).position === position, 10_000, 10);
      await owner.close();
      await transport.close();
    };
    const enqueue = (commands: Command[]) =>
      producer.enqueue(0, commands.map((c) => ({ key: c.key, value: encodeCommand(c) })), { overflow: 'block', timeoutMs: 5_000, reserve: 0 });

    await enqueue([command('x1', 'open', { initialBalance: 0 }, 'X', 1), command('b1', 'deposit', { amount: 1 }, 'B', 1)]);
    await run(1);
    // One batch: A is new (X, seen longest, is forgotten), then X again (B is forgotten).
    await enqueue([command('a1', 'deposit', { amount: 100 }, 'A', 1), command('x2', 'deposit', { amount: 10 }, 'X', 2)]);
    await run(3);
    expect(batches.at(-1)).toBe(2);
    // X's deposit sent again (a producer retrying after a lost acknowledgement), to the next owner.
    await enqueue([command('x2', 'deposit', { amount: 10 }, 'X', 2)]);
    await run(4);

    expect((await store.load(0, ['acct'])).get('acct') as Account).toEqual({ open: true, balance: 111 });
    expect(duplicates).toEqual(['deposit']);
  });
});
