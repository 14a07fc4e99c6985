import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { defineDomain, type HandlerContext } from '../../src/core/domain.ts';
import { Rejected } from '../../src/core/errors.ts';
import { shardOf } from '../../src/core/router.ts';
import { accounts, type Account } from '../../src/domains/accounts.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer, type Receipt } from '../../src/runtime/producer.ts';
import { Reader, type ReadResult } from '../../src/runtime/reader.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';
import type { ShardCommit } from '../../src/state/state-store.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import { FaultyStore, quiesce, yieldTurns } from './helpers.ts';

/**
 * What the owners did, as the test sees it: every handler run (command id → position, and
 * the state it left per position), and every commit that landed (per shard, the positions
 * and per key the states each wrote). Handlers may run more than once for a position (a
 * fenced owner's run is thrown away and redone), so a position may hold several runs.
 */
class History {
  readonly appliedAt = new Map<string, number>();
  readonly runs = new Map<string, Map<number, unknown[]>>();
  readonly commits = new Map<number, number[]>();
  readonly committed = new Map<string, { position: number; state: unknown }[]>();

  ran(id: string, key: string, position: number, state: unknown): void {
    this.appliedAt.set(id, position);
    if (state === undefined) return;
    let byPosition = this.runs.get(key);
    if (byPosition === undefined) this.runs.set(key, (byPosition = new Map()));
    byPosition.set(position, [...(byPosition.get(position) ?? []), state]);
  }

  landed(shard: number, commit: ShardCommit): void {
    this.commits.set(shard, [...(this.commits.get(shard) ?? []), commit.position]);
    for (const [key, state] of commit.changes) this.committed.set(key, [...(this.committed.get(key) ?? []), { position: commit.position, state }]);
  }

  /** The state a commit left `key` in as of `position`: the last one written at or below it. */
  committedAt(key: string, position: number): unknown {
    const writes = (this.committed.get(key) ?? []).filter((write) => write.position <= position);
    return writes.length === 0 ? accounts.initial(key) : writes[writes.length - 1]!.state;
  }

  /** The states any handler run left `key` in as of `position`. */
  ranAt(key: string, position: number): unknown[] {
    const before = [...(this.runs.get(key) ?? new Map<number, unknown[]>())].filter(([at]) => at <= position);
    if (before.length === 0) return [accounts.initial(key)];
    return before.reduce((last, entry) => (entry[0] > last[0] ? entry : last))[1];
  }
}

let history = new History();

/** The accounts domain, each handler run recorded (a rejection leaves the state as it was). */
const watched = defineDomain({ name: 'accounts', initial: accounts.initial, commands: accounts.schemas, internal: ['credit', 'refund'], queries: accounts.querySchemas })
  .handle(
    Object.fromEntries(
      Object.entries(accounts.handlers).map(([type, handler]) => [
        type,
        (state: Account, payload: never, ctx: HandlerContext<typeof accounts.schemas>) => {
          history.ran(ctx.id, ctx.key, ctx.position, undefined);
          const outcome = (handler as (s: Account, p: never, c: typeof ctx) => { state: Account })(state, payload, ctx);
          history.ran(ctx.id, ctx.key, ctx.position, outcome.state);
          return outcome;
        },
      ]),
    ) as typeof accounts.handlers,
  )
  .query(accounts.resolvers);

/** The store, with every commit that landed recorded in order. */
class RecordingStore extends FaultyStore {
  override async commit(shard: number, commit: ShardCommit): Promise<void> {
    const before = (await this.inner.status(shard)).position;
    await super.commit(shard, commit);
    if (commit.position > before) history.landed(shard, commit);
  }
}

const ACCOUNTS = ['a0', 'a1', 'a2', 'a3', 'a4', 'a5'];
const account = fc.nat({ max: ACCOUNTS.length - 1 });
const write = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('transfer' as const), from: account, to: account, amount: fc.integer({ min: 1, max: 80 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('deposit' as const), key: account, amount: fc.integer({ min: 1, max: 50 }) }) },
);
const read = fc.record({ key: account, how: fc.constantFrom('committed' as const, 'after' as const, 'owner' as const), query: fc.boolean() });

const scenario = fc.record({
  shards: fc.integer({ min: 1, max: 4 }),
  capacity: fc.integer({ min: 4, max: 16 }),
  maxBatch: fc.integer({ min: 1, max: 16 }),
  producers: fc.array(fc.array(fc.record({ op: write, yields: fc.nat({ max: 3 }) }), { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 3 }),
  readers: fc.array(fc.array(fc.record({ read, yields: fc.nat({ max: 4 }) }), { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 2 }),
  chaos: fc.array(fc.record({ event: fc.constantFrom('restart' as const, 'join' as const, 'leave' as const), yields: fc.nat({ max: 8 }) }), { maxLength: 3 }),
});

interface Seen {
  readonly key: string;
  readonly how: 'committed' | 'after' | 'owner';
  readonly query: boolean;
  readonly result: ReadResult<unknown>;
  readonly receipt: Receipt | undefined;
  /** The shard's committed position just before an owner read was asked. */
  readonly committedBefore: number;
}

describe('reads under random transfers and owner churn', () => {
  it('a committed read is always a state some commit produced, at a commit boundary; after a receipt it reflects the receipt; an owner read is never behind', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (plan) => {
        history = new History();
        const closers: (() => Promise<unknown>)[] = [];
        try {
          const broker = MemoryTransport.broker({ shards: plan.shards, capacity: plan.capacity, maxBatch: plan.maxBatch, revokeTimeoutMs: 30, retryDelayMs: 5 });
          const store = new RecordingStore(new MemoryStateStore());
          const process = () => {
            const transport = new MemoryTransport({ broker });
            closers.push(() => transport.close());
            return transport;
          };
          const owners: Owner<typeof watched>[] = [];
          const startOwner = async () => {
            const owner = new Owner({ domain: watched, transport: process(), store, retryBackoffMs: 1, followUpForceAfterMs: 20 });
            closers.push(() => owner.close());
            owners.push(owner);
            await owner.start();
          };
          await startOwner();

          const setup = new Producer({ domain: watched, transport: process(), requestTimeoutMs: 20_000 });
          closers.push(() => setup.close());
          for (const key of ACCOUNTS) await setup.request('open', key, { initialBalance: 100 });

          const receipts = new Map<string, Receipt>();
          const producing = plan.producers.map(async (ops) => {
            const producer = new Producer({ domain: watched, transport: process(), requestTimeoutMs: 20_000 });
            closers.push(() => producer.close());
            for (const { op, yields } of ops) {
              await yieldTurns(yields);
              const key = ACCOUNTS[op.kind === 'transfer' ? op.from : op.key]!;
              const receipt =
                op.kind === 'transfer'
                  ? await producer.send('transfer', key, { to: ACCOUNTS[op.to]!, amount: op.amount })
                  : await producer.send('deposit', key, { amount: op.amount });
              receipts.set(key, receipt);
            }
          });

          const seen: Seen[] = [];
          const reading = plan.readers.map(async (reads) => {
            const reader = new Reader({ domain: watched, transport: process(), store, timeoutMs: 20_000 });
            closers.push(() => reader.close());
            for (const { read: r, yields } of reads) {
              await yieldTurns(yields);
              const key = ACCOUNTS[r.key]!;
              const receipt = r.how === 'after' ? receipts.get(key) : undefined;
              const options = r.how === 'owner' ? { consistency: 'owner' as const } : receipt === undefined ? {} : { after: receipt };
              const committedBefore = (await store.status(shardOf(key, plan.shards))).position;
              const result = r.query ? await reader.query('balance', key, {}, options) : await reader.get(key, options);
              seen.push({ key, how: r.how, query: r.query, result, receipt, committedBefore });
            }
          });
          const chaos = (async () => {
            for (const { event, yields } of plan.chaos) {
              await yieldTurns(yields * 4);
              if (event !== 'join' && owners.length > 0 && (event === 'restart' || owners.length > 1)) await owners.shift()!.close();
              if (event !== 'leave' || owners.length === 0) await startOwner();
            }
          })();
          await Promise.all([...producing, ...reading, chaos]);
          await quiesce(process(), plan.shards);

          for (const { key, how, query, result, receipt, committedBefore } of seen) {
            const shown = (value: unknown) => (query ? (value as Account).balance : value);
            const what = `${how} ${query ? 'balance' : 'get'} of ${key} at position ${result.position}`;
            if (how === 'owner') {
              expect(result.position, `${what}: behind the commit made before it was asked`).toBeGreaterThanOrEqual(committedBefore);
              expect(history.ranAt(key, result.position).map(shown), what).toContainEqual(result.value);
              continue;
            }
            const boundaries = [-1, ...(history.commits.get(result.shard) ?? [])];
            expect(boundaries, `${what}: not a position a commit ended at`).toContain(result.position);
            expect(isDeepStrictEqual(result.value, shown(history.committedAt(key, result.position))), `${what}: ${JSON.stringify(result.value)} is not what the commits left`).toBe(true);
            if (receipt !== undefined) expect(history.appliedAt.get(receipt.id), `${what}: its receipt's command`).toBeLessThanOrEqual(result.position);
          }
        } catch (error) {
          if (error instanceof Rejected) throw new Error(`a setup command was rejected: ${error.reason}`);
          throw error;
        } finally {
          for (const close of closers.reverse()) await close();
        }
      }),
      { numRuns: 30 },
    );
  });
});
