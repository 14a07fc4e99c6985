import { afterEach, describe, expect, it } from 'vitest';
import { encodeCommand, type Command } from '../../src/core/command.ts';
import { accounts, type Account } from '../../src/domains/accounts.ts';
import { Owner } from '../../src/runtime/owner.ts';
import type { ShardCommit } from '../../src/state/state-store.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import { until } from '../support/processes.ts';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** Deposit `amount` by `origin`'s command `seq` (`open` for seq 0). */
const command = (origin: string, seq: number, amount: number): Command =>
  seq === 0
    ? { id: `${origin}${seq}`, type: 'open', key: 'acct', payload: { initialBalance: amount }, sentAt: 1, origin, seq }
    : { id: `${origin}${seq}`, type: 'deposit', key: 'acct', payload: { amount }, sentAt: 1, origin, seq };

/**
 * One batch of two producers' commands, each resending some it sent before in the same
 * batch: runs of one origin broken by the other origin and by resends.
 */
const BATCH = [
  command('A', 0, 1),
  command('A', 1, 2),
  command('A', 2, 4),
  command('A', 1, 2),
  command('A', 3, 8),
  command('B', 1, 16),
  command('A', 4, 32),
  command('A', 2, 4),
  command('B', 1, 16),
  command('B', 2, 64),
  command('B', 3, 128),
];
const APPLIED = 1 + 2 + 4 + 8 + 16 + 32 + 64 + 128;
const RESENT = 3;

/** A memory store whose first `failures` commits throw after they were refused: the owner must put the batch's marks back. */
class FailingStore extends MemoryStateStore {
  failures: number;

  constructor(failures: number) {
    super();
    this.failures = failures;
  }

  override async commit(shard: number, commit: ShardCommit): Promise<void> {
    if (this.failures > 0) {
      this.failures--;
      throw new Error('commit refused: disk full');
    }
    await super.commit(shard, commit);
  }
}

async function applyOnce(store: MemoryStateStore, commands: readonly Command[], position: number): Promise<string[]> {
  const broker = MemoryTransport.broker({ shards: 1, capacity: 64, retryDelayMs: 1 });
  const producer = new MemoryTransport({ broker });
  await producer.connect();
  closers.push(() => producer.close());
  await producer.enqueue(0, commands.map((c) => ({ key: c.key, value: encodeCommand(c) })), { overflow: 'block', timeoutMs: 5_000, reserve: 0 });
  const duplicates: string[] = [];
  const transport = new MemoryTransport({ broker });
  const owner = new Owner({ domain: accounts, transport, store, observer: { applied: (type, outcome, n) => outcome === 'duplicate' && duplicates.push(...Array<string>(n).fill(type)) } });
  closers.push(() => transport.close());
  closers.push(() => owner.close());
  await owner.start();
  await until(`position ${position} committed`, async () => (await store.status(0)).position === position, 10_000, 10);
  return duplicates;
}

const balance = async (store: MemoryStateStore) => ((await store.read(0, 'acct')).state as Account).balance;
const mark = async (store: MemoryStateStore, origin: string) => (await store.read(0, 'acct', origin)).mark;

describe('origin marks over runs of one origin in a batch', () => {
  it('applies each command once however the origins and resends interleave, and commits each origin its highest seq', async () => {
    const store = new MemoryStateStore();
    expect(await applyOnce(store, BATCH, BATCH.length - 1)).toEqual(Array<string>(RESENT).fill('deposit'));
    expect(await balance(store)).toBe(APPLIED);
    expect([await mark(store, 'A'), await mark(store, 'B')]).toEqual([4, 3]);
  });

  it('puts every origin of the batch back when its commit fails, so the batch delivered again is applied once', async () => {
    const store = new FailingStore(2);
    await applyOnce(store, BATCH, BATCH.length - 1);
    expect(store.failures).toBe(0);
    expect(await balance(store)).toBe(APPLIED);
    expect([await mark(store, 'A'), await mark(store, 'B')]).toEqual([4, 3]);
  });
});
