/**
 * Shared pieces of the core suites: small test domains, a way to wait for quiescence,
 * and a store wrapper that pauses or "crashes" an owner around its commit. Everything
 * runs on the real memory transport and the real memory store.
 */
import { afterEach } from 'vitest';
import { z } from 'zod';
import { defineDomain } from '../../src/core/domain.ts';
import type { ApplyOutcome, RuntimeObserver } from '../../src/runtime/observer.ts';
import type { EntityRead, ShardCommit, StateStore } from '../../src/state/state-store.ts';
import type { Transport } from '../../src/transports/transport.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import { waitFor } from '../../src/testing/recording-handler.ts';
import { shardOf } from '../../src/core/router.ts';
import { ConnectionError } from '../../src/core/errors.ts';
import { StoreDecorator } from '../support/decorators.ts';

/** A counter per key: `add` returns the new value. */
export const counters = defineDomain({
  name: 'counters',
  initial: (): { value: number } => ({ value: 0 }),
  commands: { add: z.object({ by: z.number().int() }) },
}).handle({
  add: (state, { by }) => ({ state: { value: state.value + by }, reply: state.value + by }),
});

/** An append-only list per key: the order in which its owner applied the commands. */
export const lists = defineDomain({
  name: 'lists',
  initial: (): { items: readonly string[] } => ({ items: [] }),
  commands: { append: z.object({ item: z.string().min(1) }) },
}).handle({
  append: (state, { item }) => ({ state: { items: [...state.items, item] }, reply: state.items.length + 1 }),
});

export { TransportDecorator } from '../support/decorators.ts';

/** Things to close after each test of the calling file, closed newest first: push onto it. */
export function closedAfterEach(): (() => Promise<unknown>)[] {
  const closers: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });
  return closers;
}

/** A transport of its own on `broker`, as a separate process would have, closed through `closers`. */
export function processOn(broker: ReturnType<typeof MemoryTransport.broker>, closers: (() => Promise<unknown>)[]): MemoryTransport {
  const transport = new MemoryTransport({ broker });
  closers.push(() => transport.close());
  return transport;
}

/** Total depth of every shard, as the transport reports it. */
export async function totalDepth(transport: Transport, shardCount: number): Promise<number> {
  let total = 0;
  for (let shard = 0; shard < shardCount; shard++) total += await transport.depth(shard);
  return total;
}

/**
 * Waits until every shard is empty (all acknowledged) on two polls in a row, so that
 * follow-ups sent right after a commit have had their chance to appear.
 */
export async function quiesce(transport: Transport, shardCount: number, timeoutMs = 20_000): Promise<void> {
  let emptyPolls = 0;
  await waitFor(
    'every shard queue to stay empty',
    async () => {
      emptyPolls = (await totalDepth(transport, shardCount)) === 0 ? emptyPolls + 1 : 0;
      return emptyPolls >= 2;
    },
    timeoutMs,
  );
}

/** Every entity of a store, by key. */
export async function entries<S>(store: StateStore): Promise<Map<string, S>> {
  const all = new Map<string, S>();
  for await (const [key, state] of store.entries()) all.set(key, state as S);
  return all;
}

/** `count` distinct keys `${prefix}N` that route to `shard`. */
export function keysOnShard(shard: number, shardCount: number, count: number, prefix = 'key-'): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < count && i < 100_000; i++) {
    if (shardOf(`${prefix}${i}`, shardCount) === shard) keys.push(`${prefix}${i}`);
  }
  if (keys.length < count) throw new Error(`found only ${keys.length} keys on shard ${shard}`);
  return keys;
}

/** Collects what a runtime observer hears, for assertions on counts. */
export class RecordingObserver implements RuntimeObserver {
  readonly outcomes = new Map<string, number>();
  readonly waits: number[] = [];
  readonly refused: { shard: number; reason: 'full' | 'timeout' }[] = [];
  readonly stale: number[] = [];
  readonly batches: { shard: number; size: number }[] = [];
  readonly deadLetters: { shard: number; type: string | undefined; error: string }[] = [];
  readonly forced: { shard: number; count: number }[] = [];
  #enqueued = 0;

  enqueued(_type: string, count: number): void {
    this.#enqueued += count;
  }

  /** Commands producers reported enqueued, in all. */
  enqueuedCount(): number {
    return this.#enqueued;
  }

  applied(type: string, outcome: ApplyOutcome, count: number): void {
    const id = `${type}/${outcome}`;
    this.outcomes.set(id, (this.outcomes.get(id) ?? 0) + count);
  }

  count(type: string, outcome: ApplyOutcome): number {
    return this.outcomes.get(`${type}/${outcome}`) ?? 0;
  }

  backpressureWait(seconds: number): void {
    this.waits.push(seconds);
  }

  enqueueRefused(shard: number, reason: 'full' | 'timeout'): void {
    this.refused.push({ shard, reason });
  }

  staleEpoch(shard: number): void {
    this.stale.push(shard);
  }

  batch(shard: number, size: number): void {
    this.batches.push({ shard, size });
  }

  deadLettered(shard: number, type: string | undefined, error: string): void {
    this.deadLetters.push({ shard, type, error });
  }

  followUpsForced(shard: number, count: number): void {
    this.forced.push({ shard, count });
  }
}

/**
 * The real memory store seen through one owner, with faults that a process can suffer
 * around a commit: `pause()` holds its next commits before they reach the store (a GC
 * pause, a zombie), `crashAfterCommit()` lets the next commit land and then never returns
 * (the process died right after its write). Every other call goes straight to the store.
 * Like a store in another process, it does not say `inProcess`: owners cache in front of it.
 */
export class FaultyStore extends StoreDecorator {
  /** Commits waiting in `pause`. */
  waiting = 0;
  /** Commits that landed and then "crashed". */
  crashed = 0;
  /** Calls of `read()` that reached the store. */
  reads = 0;
  /** The keys of every `load()` that reached the store, one list per call. */
  readonly loads: { shard: number; keys: readonly string[] }[] = [];
  /** Commits that reached the store, with what the store answered. */
  readonly commits: { shard: number; epoch: number; position: number; ok: boolean }[] = [];
  #gate: Promise<void> | undefined;
  #release: (() => void) | undefined;
  #crashNext = false;
  #revive: (() => void) | undefined;
  #failNext = 0;
  #loseNextReply = 0;

  constructor(inner: StateStore) {
    super('faulty-memory', inner);
  }

  pause(): void {
    this.#gate = new Promise((resolve) => {
      this.#release = resolve;
    });
  }

  resume(): void {
    this.#gate = undefined;
    this.#release?.();
  }

  crashAfterCommit(): void {
    this.#crashNext = true;
  }

  /** The next `times` commits fail with a retriable error before reaching the store (nothing written). */
  failNextCommits(times = 1): void {
    this.#failNext = times;
  }

  /**
   * The next `times` commits land in the store and then fail with a retriable error, as a
   * write whose reply was lost on the network: the owner cannot tell it went through.
   */
  loseNextReplies(times = 1): void {
    this.#loseNextReply = times;
  }

  /** Lets a "crashed" commit return after all, as a zombie that wakes up would. */
  revive(): void {
    this.#revive?.();
  }

  override async commit(shard: number, commit: ShardCommit): Promise<void> {
    if (this.#gate !== undefined) {
      this.waiting++;
      await this.#gate;
      this.waiting--;
    }
    if (this.#failNext > 0) {
      this.#failNext--;
      this.commits.push({ shard, epoch: commit.epoch, position: commit.position, ok: false });
      throw new ConnectionError('state store', 'connection reset before the write (injected)');
    }
    try {
      await this.inner.commit(shard, commit);
      this.commits.push({ shard, epoch: commit.epoch, position: commit.position, ok: true });
    } catch (error) {
      this.commits.push({ shard, epoch: commit.epoch, position: commit.position, ok: false });
      throw error;
    }
    if (this.#loseNextReply > 0) {
      this.#loseNextReply--;
      throw new ConnectionError('state store', 'connection reset after the write (injected)');
    }
    if (this.#crashNext) {
      this.#crashNext = false;
      this.crashed++;
      await new Promise<void>((resolve) => {
        this.#revive = resolve;
      });
    }
  }

  override load(shard: number, keys: readonly string[]): Promise<ReadonlyMap<string, unknown>> {
    this.loads.push({ shard, keys: [...keys] });
    return this.inner.load(shard, keys);
  }

  override read(shard: number, key: string, origin?: string): Promise<EntityRead> {
    this.reads++;
    return this.inner.read(shard, key, origin);
  }
}

/** Whether `promise` settled, read without waiting for it. */
export function watch(promise: Promise<unknown>): { settled: boolean } {
  const state = { settled: false };
  void promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
}

/** What `promise` rejects with; a resolution fails the test, naming the value. */
export async function refusal(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a refusal, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error,
  );
}

/** Lets pending microtasks and immediates run, a bounded number of times (not a sleep). */
export async function yieldTurns(turns: number): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}
