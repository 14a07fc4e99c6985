/**
 * A domain marks the command types only its own handlers emit (the accounts domain's
 * `credit` and `refund`) as internal: producers refuse them, and an owner applies one only
 * when it comes from a shard's emit. Otherwise any producer could mint money.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineDomain } from '../../src/core/domain.ts';
import { CommandFailedError, ConfigError, InvalidCommandError } from '../../src/core/errors.ts';
import { shardOf } from '../../src/core/router.ts';
import { accounts } from '../../src/domains/accounts.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import { entries, quiesce, RecordingObserver, totalDepth } from './helpers.ts';

const SHARDS = 4;
const closers: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function bank() {
  const transport = new MemoryTransport({ shards: SHARDS, capacity: 64 });
  const observer = new RecordingObserver();
  const owner = new Owner({ domain: accounts, transport, observer, maxAttempts: 1 });
  const producer = new Producer({ domain: accounts, transport });
  closers.push(() => transport.close(), () => owner.close(), () => producer.close());
  await owner.start();
  await producer.request('open', 'alice', { initialBalance: 100 });
  await producer.request('open', 'bob', { initialBalance: 50 });
  return { transport, observer, owner, producer };
}

async function money(owner: Owner<typeof accounts>): Promise<number> {
  let total = 0;
  for (const account of (await entries<{ balance: number }>(owner.store)).values()) total += account.balance;
  return total;
}

/** Writes one encoded command onto its shard's queue as another program with broker access would. */
async function writeRaw(transport: MemoryTransport, command: Record<string, unknown> & { key: string }): Promise<void> {
  const value = JSON.stringify({ id: `raw-${command.key}-${command.seq ?? 'x'}`, sentAt: Date.now(), ...command });
  await transport.enqueue(shardOf(command.key, SHARDS), [{ key: command.key, value }], { overflow: 'block', timeoutMs: 5_000, reserve: 0 });
}

async function refused(promise: Promise<unknown>): Promise<InvalidCommandError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(InvalidCommandError);
  expect((error as InvalidCommandError).field).toBe('type');
  return error as InvalidCommandError;
}

describe('a producer cannot send an internal command type', () => {
  it('send, request and sendMany refuse credit and refund with field "type"; no money is minted', async () => {
    const { transport, owner, producer } = await bank();
    const before = await money(owner);
    expect(before).toBe(150);

    const error = await refused(producer.send('credit' as never, 'alice', { from: 'nobody', amount: 1_000_000 } as never));
    expect(error.reason).toBe('credit is internal to domain accounts: only its handlers emit it (ctx.emit); a producer may send open, deposit, withdraw, transfer');
    await refused(producer.request('refund' as never, 'alice', { to: 'nobody', amount: 1_000_000 } as never));
    const outcomes = await producer.sendMany([
      { type: 'credit', key: 'bob', payload: { from: 'nobody', amount: 1_000_000 } } as never,
      { type: 'deposit', key: 'bob', payload: { amount: 1 } },
    ]);
    expect(outcomes[0]).toMatchObject({ ok: false, error: { field: 'type' } });
    expect(outcomes[1]).toMatchObject({ ok: true });

    await quiesce(transport, SHARDS);
    expect(await money(owner)).toBe(before + 1);
  });

  it('the unknown-type error lists only what a producer may send', async () => {
    const { producer } = await bank();
    const error = await refused(producer.send('steal' as never, 'alice', {} as never));
    expect(error.reason).toContain('expected one of open, deposit, withdraw, transfer');
    expect(error.reason).not.toContain('credit');
  });
});

describe('an owner applies an internal command type only when a shard emitted it', () => {
  it('forged credits from a producer origin or with no origin are dead-lettered as forbidden; transfers still credit', async () => {
    const { transport, observer, owner, producer } = await bank();
    await writeRaw(transport, { type: 'credit', key: 'alice', payload: { from: 'bob', amount: 1_000_000 }, origin: 'forger', seq: 0 });
    await writeRaw(transport, { type: 'refund', key: 'bob', payload: { to: 'alice', amount: 1_000_000 } });
    expect(await producer.request('transfer', 'alice', { to: 'bob', amount: 30 })).toEqual({ balance: 70 });
    await quiesce(transport, SHARDS);

    const state = await entries<{ balance: number }>(owner.store);
    expect(state.get('alice')).toEqual({ open: true, balance: 70 });
    expect(state.get('bob')).toEqual({ open: true, balance: 80 });
    expect(await money(owner)).toBe(150);
    expect(observer.count('credit', 'ok')).toBe(1);
    const letters = await owner.deadLetters.list();
    expect(letters.map((l) => l.error)).toEqual([
      'forbidden: credit is internal to domain accounts: applied only when a shard emits it, got it from origin "forger"',
      'forbidden: refund is internal to domain accounts: applied only when a shard emits it, got it from a writer that gave no origin',
    ]);
  });

  it('a forged credit asking for a reply gets CommandFailedError', async () => {
    const transport = new MemoryTransport({ shards: SHARDS, capacity: 64 });
    const owner = new Owner({ domain: accounts, transport });
    // A producer of a look-alike domain in which credit is public: what a foreign program could send.
    const lookAlike = defineDomain({ name: 'accounts', initial: accounts.initial, commands: accounts.schemas }).handle(accounts.handlers);
    const producer = new Producer({ domain: lookAlike, transport });
    closers.push(() => transport.close(), () => owner.close(), () => producer.close());
    await owner.start();
    const error = await producer.request('credit', 'alice', { from: 'bob', amount: 5 }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(CommandFailedError);
    expect((error as CommandFailedError).message).toMatch(/forbidden: credit is internal to domain accounts/);
    expect(await totalDepth(transport, SHARDS)).toBe(0);
    expect(await entries(owner.store)).toEqual(new Map());
  });
});

describe('defineDomain checks its internal list', () => {
  it('refuses a name that is not a command type of the domain, every one of them at once', () => {
    const define = () =>
      defineDomain({
        name: 'shop',
        initial: () => ({}),
        commands: { sell: z.object({}), restock: z.object({}) },
        internal: ['restok', 'sell', 'audit'] as never,
      });
    expect(define).toThrow(ConfigError);
    expect(define).toThrow(/internal: "restok" is not a command type of domain shop \(expected one of sell, restock\)/);
    expect(define).toThrow(/internal: "audit" is not a command type/);
  });
});
