import { inspect, isDeepStrictEqual } from 'node:util';
import { ShardlineError } from '../core/errors.ts';
import type { OutboxMessage, ShardCommit, ShardSnapshot, StateStore } from '../state/state-store.ts';

/**
 * A state store failed a check of the store conformance suite. `check` is the id of the
 * check (`claim-epochs`, `marks-exact`, ...); the message says which step, what was
 * expected and what the store gave; `cause` is what the store threw, if it threw.
 */
export class StoreConformanceError extends ShardlineError {
  /** Id of the failed check, as listed in `storeChecks`. */
  readonly check: string;

  constructor(check: string, title: string, detail: string, options: { cause?: unknown } = {}) {
    super('STORE_CONFORMANCE', `store check ${check} (${title}) failed: ${detail}`, options);
    this.check = check;
  }
}

/** What a check found wrong; the runner turns it into a {@link StoreConformanceError}. */
export class Mismatch extends Error {}

/** Prints a value for a message: Maps, nested objects and odd characters shown as they are. */
export function show(value: unknown): string {
  return inspect(value, { depth: 8, breakLength: Infinity, maxArrayLength: 50, maxStringLength: 200 });
}

/** Throws a {@link Mismatch} naming `what` unless `actual` deeply and strictly equals `expected`. */
export function same(what: string, actual: unknown, expected: unknown): void {
  if (!isDeepStrictEqual(actual, expected)) throw new Mismatch(`${what}: expected ${show(expected)}, got ${show(actual)}`);
}

/** Throws a {@link Mismatch} naming `what` unless `condition` holds. */
export function holds(what: string, condition: boolean, got: unknown): void {
  if (!condition) throw new Mismatch(`${what}, got ${show(got)}`);
}

/** Resolves when `write` is refused with `code: 'STALE_EPOCH'` carrying `epoch` and `currentEpoch`. */
export async function refusedStale(what: string, write: Promise<unknown>, epoch: number, currentEpoch: number): Promise<void> {
  let error: unknown;
  try {
    await write;
  } catch (caught) {
    error = caught;
  }
  if (error === undefined) throw new Mismatch(`${what}: expected a StaleEpochError (epoch ${epoch}, current ${currentEpoch}), got a commit that was accepted`);
  const { code, epoch: gotEpoch, currentEpoch: gotCurrent } = error as { code?: unknown; epoch?: unknown; currentEpoch?: unknown };
  same(`${what}: the refusal's { code, epoch, currentEpoch }`, { code, epoch: gotEpoch, currentEpoch: gotCurrent }, { code: 'STALE_EPOCH', epoch, currentEpoch });
}

/** A commit of `epoch` at `position` that changes nothing but what `parts` gives. */
export function commitOf(epoch: number, position: number, parts: Partial<Omit<ShardCommit, 'epoch' | 'position'>> = {}): ShardCommit {
  return { epoch, position, changes: new Map(), appliedIds: [], marks: new Map(), forgottenMarks: [], outbox: [], deadLetters: [], ...parts };
}

/** Outbox messages as plain `{ key, value }` (a message's `value` may be a getter). */
export function plain(outbox: readonly OutboxMessage[]): OutboxMessage[] {
  return outbox.map((message) => ({ key: message.key, value: message.value }));
}

/** A snapshot with plain arrays, a plain outbox and the marks as a Map, to compare whole. */
export function snapshotOf(snapshot: ShardSnapshot): ShardSnapshot {
  return {
    epoch: snapshot.epoch,
    position: snapshot.position,
    recentIds: [...snapshot.recentIds],
    marks: new Map(snapshot.marks),
    outbox: plain(snapshot.outbox),
  };
}

/** `status()` reduced to `{ epoch, position }`. */
export async function statusOf(store: StateStore, shard: number): Promise<{ epoch: number; position: number }> {
  const { epoch, position } = await store.status(shard);
  return { epoch, position };
}

/** The requested entities `load` returned (a store may return more). */
export async function loaded(store: StateStore, shard: number, keys: readonly string[]): Promise<Map<string, unknown>> {
  const found = await store.load(shard, keys);
  const picked = new Map<string, unknown>();
  for (const key of keys) if (found.has(key)) picked.set(key, found.get(key));
  return picked;
}

/** Waits for the macrotask queue to turn, so that other work interleaves (not a timed sleep). */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** What a check is handed: instances of the store under test, all over one fresh backend. */
export interface StoreCheckContext {
  /** A new instance over the check's backend, as another process would open one; the runner closes it. */
  open(): Promise<StateStore>;
  /** How many recent ids per shard the harness's stores keep. */
  readonly dedupeWindow: number;
  /** How many dead letters they keep, when they cap them. */
  readonly deadLetterCapacity: number | undefined;
}

/** One property of the store contract, checked against a real store. */
export interface StoreCheck {
  /** Stable id, e.g. `claim-epochs`: what {@link StoreConformanceError.check} names. */
  readonly id: string;
  /** What must hold, as a sentence. */
  readonly title: string;
  /** Resolves when the property holds; throws a {@link Mismatch} (or whatever the store threw) when not. */
  run(context: StoreCheckContext): Promise<void>;
}
