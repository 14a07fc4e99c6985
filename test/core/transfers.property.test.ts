import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defineDomain } from '../../src/core/domain.ts';
import { Rejected } from '../../src/core/errors.ts';
import { accounts, type Account } from '../../src/domains/accounts.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import { entries, quiesce, yieldTurns } from './helpers.ts';

/**
 * What the owners decided for each follow-up, by its id: the accounts domain's own
 * handlers, watched. A handler may run more than once for one id (a fenced owner's run is
 * thrown away and redone); it must decide the same each time.
 */
class Ledger {
  readonly credits = new Map<string, { from: string; to: string; amount: number; credited: boolean }>();
  readonly refunds = new Set<string>();
  readonly conflicts: string[] = [];

  credit(id: string, entry: { from: string; to: string; amount: number; credited: boolean }): void {
    const before = this.credits.get(id);
    if (before !== undefined && before.credited !== entry.credited) this.conflicts.push(`credit ${id} decided both ways`);
    this.credits.set(id, entry);
  }
}

let ledger = new Ledger();

const watchedAccounts = defineDomain({ name: 'accounts', initial: accounts.initial, commands: accounts.schemas }).handle({
  ...accounts.handlers,
  credit(state, payload, ctx) {
    const outcome = accounts.handlers.credit(state, payload, ctx);
    ledger.credit(ctx.id, { from: payload.from, to: ctx.key, amount: payload.amount, credited: outcome.reply.credited });
    return outcome;
  },
  refund(state, payload, ctx) {
    ledger.refunds.add(ctx.id);
    return accounts.handlers.refund(state, payload);
  },
});

const ACCOUNTS = ['a0', 'a1', 'a2', 'a3', 'a4', 'a5'];
const account = fc.nat({ max: ACCOUNTS.length - 1 });
const operation = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('transfer' as const), from: account, to: account, amount: fc.integer({ min: 1, max: 80 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('deposit' as const), key: account, amount: fc.integer({ min: 1, max: 50 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('open' as const), key: account, initial: fc.integer({ min: 0, max: 100 }) }) },
);

const scenario = fc.record({
  shards: fc.integer({ min: 1, max: 4 }),
  capacity: fc.integer({ min: 2, max: 16 }),
  maxBatch: fc.integer({ min: 1, max: 16 }),
  /** Accounts opened before any transfer, with their initial balance; the others may be opened later, or never. */
  openedFirst: fc.array(fc.tuple(account, fc.integer({ min: 0, max: 200 })), { maxLength: ACCOUNTS.length }),
  producers: fc.array(
    fc.record({
      concurrent: fc.boolean(),
      ops: fc.array(fc.record({ op: operation, yields: fc.nat({ max: 3 }) }), { minLength: 1, maxLength: 15 }),
    }),
    { minLength: 1, maxLength: 4 },
  ),
  /** Owners joining, leaving and restarting on the shared broker and store while it runs. */
  chaos: fc.array(fc.record({ event: fc.constantFrom('restart' as const, 'join' as const, 'leave' as const), yields: fc.nat({ max: 8 }) }), { maxLength: 3 }),
});

type Op = { kind: 'transfer'; from: number; to: number; amount: number } | { kind: 'deposit'; key: number; amount: number } | { kind: 'open'; key: number; initial: number };

type Outcome = { kind: 'transfer'; from: string; to: string; amount: number; ok: boolean } | { kind: 'deposit'; key: string; amount: number; ok: boolean } | { kind: 'open'; key: string; initial: number; ok: boolean };

describe('random transfers among a handful of accounts, with random schedules', () => {
  it('conserve money, never go negative, and every transfer is debited+credited, debited+refunded, or rejected', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (plan) => {
        ledger = new Ledger();
        const closers: (() => Promise<unknown>)[] = [];
        try {
          const broker = MemoryTransport.broker({ shards: plan.shards, capacity: plan.capacity, maxBatch: plan.maxBatch, revokeTimeoutMs: 30, retryDelayMs: 5 });
          const store = new MemoryStateStore();
          const process = () => {
            const transport = new MemoryTransport({ broker });
            closers.push(() => transport.close());
            return transport;
          };
          const owners: Owner<typeof watchedAccounts>[] = [];
          const startOwner = async () => {
            const owner = new Owner({ domain: watchedAccounts, transport: process(), store, retryBackoffMs: 1, followUpForceAfterMs: 20 });
            closers.push(() => owner.close());
            owners.push(owner);
            await owner.start();
          };
          await startOwner();

          const outcomes: Outcome[] = [];
          const run = async (producer: Producer<typeof watchedAccounts>, op: Op) => {
            const settle = async (promise: Promise<unknown>) =>
              promise.then(
                () => true,
                (error: unknown) => {
                  if (error instanceof Rejected) return false;
                  throw error;
                },
              );
            if (op.kind === 'transfer') {
              const [from, to] = [ACCOUNTS[op.from]!, ACCOUNTS[op.to]!];
              outcomes.push({ kind: 'transfer', from, to, amount: op.amount, ok: await settle(producer.request('transfer', from, { to, amount: op.amount })) });
            } else if (op.kind === 'deposit') {
              const key = ACCOUNTS[op.key]!;
              outcomes.push({ kind: 'deposit', key, amount: op.amount, ok: await settle(producer.request('deposit', key, { amount: op.amount })) });
            } else {
              const key = ACCOUNTS[op.key]!;
              outcomes.push({ kind: 'open', key, initial: op.initial, ok: await settle(producer.request('open', key, { initialBalance: op.initial })) });
            }
          };

          const setup = new Producer({ domain: watchedAccounts, transport: process(), requestTimeoutMs: 20_000 });
          closers.push(() => setup.close());
          for (const [index, initial] of plan.openedFirst) await run(setup, { kind: 'open', key: index, initial });

          const producing = plan.producers.map(async (producerPlan) => {
            const producer = new Producer({ domain: watchedAccounts, transport: process(), requestTimeoutMs: 20_000 });
            closers.push(() => producer.close());
            const pending: Promise<void>[] = [];
            for (const { op, yields } of producerPlan.ops) {
              await yieldTurns(yields);
              if (producerPlan.concurrent) pending.push(run(producer, op));
              else await run(producer, op);
            }
            await Promise.all(pending);
          });
          const chaos = (async () => {
            for (const { event, yields } of plan.chaos) {
              await yieldTurns(yields * 4);
              if (event !== 'join' && owners.length > 0 && (event === 'restart' || owners.length > 1)) await owners.shift()!.close();
              if (event !== 'leave' || owners.length === 0) await startOwner();
            }
          })();
          await Promise.all([...producing, chaos]);
          await quiesce(process(), plan.shards);

          // What the producers were told.
          const opened = new Map<string, number>();
          const deposited = new Map<string, number>();
          for (const outcome of outcomes) {
            if (outcome.kind === 'open' && outcome.ok) {
              expect(opened.has(outcome.key)).toBe(false);
              opened.set(outcome.key, outcome.initial);
            }
            if (outcome.kind === 'deposit' && outcome.ok) deposited.set(outcome.key, (deposited.get(outcome.key) ?? 0) + outcome.amount);
          }
          const accepted = outcomes.filter((o): o is Extract<Outcome, { kind: 'transfer' }> => o.kind === 'transfer' && o.ok);

          // Every accepted transfer has exactly one credit; no rejected one has any.
          const tuple = (t: { from: string; to: string; amount: number }) => `${t.from}->${t.to}:${t.amount}`;
          const credits = [...ledger.credits.values()];
          expect(credits.map(tuple).sort()).toEqual(accepted.map(tuple).sort());
          expect(ledger.conflicts).toEqual([]);
          // A credit that was not applied (target not open) was refunded, exactly those.
          const refused = [...ledger.credits].filter(([, c]) => !c.credited).map(([id]) => `${id}.0`);
          expect([...ledger.refunds].sort()).toEqual(refused.sort());

          // Balances: each one exactly what the accepted operations and the decisions make it.
          const state = await entries<Account>(store);
          const expected = new Map(ACCOUNTS.map((key) => [key, (opened.get(key) ?? 0) + (deposited.get(key) ?? 0)]));
          for (const t of accepted) expected.set(t.from, expected.get(t.from)! - t.amount);
          for (const c of credits) {
            if (c.credited) expected.set(c.to, expected.get(c.to)! + c.amount);
            else expected.set(c.from, expected.get(c.from)! + c.amount);
          }
          let moneyAfter = 0;
          for (const key of ACCOUNTS) {
            const balance = state.get(key)?.balance ?? 0;
            expect(balance, `balance of ${key}`).toBe(expected.get(key));
            expect(balance).toBeGreaterThanOrEqual(0);
            expect(state.get(key)?.open ?? false).toBe(opened.has(key));
            moneyAfter += balance;
          }
          const moneyIn = [...opened.values(), ...deposited.values()].reduce((a, b) => a + b, 0);
          expect(moneyAfter).toBe(moneyIn);
        } finally {
          for (const close of closers.reverse()) await close();
        }
      }),
      { numRuns: 40 },
    );
  });
});
