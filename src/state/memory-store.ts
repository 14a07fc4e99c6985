import { StaleEpochError } from '../core/errors.ts';
import { MemoryDeadLetterQueue } from './dead-letters.ts';
import type { EntityRead, OutboxMessage, ShardCommit, ShardSnapshot, StateStore } from './state-store.ts';

interface ShardRecord {
  epoch: number;
  position: number;
  entities: Map<string, unknown>;
  /** The dedupe window as a ring: `recentIds[next % window]` is overwritten next. */
  recentIds: string[];
  next: number;
  marks: Map<string, number>;
  outbox: readonly OutboxMessage[];
}

/**
 * The default store: state lives in this process. Fencing still holds between owners in
 * the same process; across processes use the redis store (or replay, with Kafka).
 */
export class MemoryStateStore implements StateStore {
  readonly name = 'memory';
  readonly inProcess = true;
  readonly deadLetters: MemoryDeadLetterQueue;
  readonly #shards = new Map<number, ShardRecord>();
  readonly #dedupeWindow: number;

  /**
   * @param options.dedupeWindow how many recent command ids per shard are kept for dedupe.
   * @param options.deadLetters where commits put dead letters (share one between stores to see them together).
   */
  constructor(options: { dedupeWindow?: number; deadLetters?: MemoryDeadLetterQueue } = {}) {
    this.#dedupeWindow = options.dedupeWindow ?? 10_000;
    this.deadLetters = options.deadLetters ?? new MemoryDeadLetterQueue();
  }

  #record(shard: number): ShardRecord {
    let record = this.#shards.get(shard);
    if (record === undefined) {
      record = { epoch: 0, position: -1, entities: new Map(), recentIds: [], next: 0, marks: new Map(), outbox: [] };
      this.#shards.set(shard, record);
    }
    return record;
  }

  async claim(shard: number, offeredEpoch: number): Promise<ShardSnapshot> {
    const record = this.#record(shard);
    const epoch = Math.max(record.epoch + 1, offeredEpoch);
    record.epoch = epoch;
    const window = this.#dedupeWindow;
    const ids = record.recentIds;
    const oldestFirst = ids.length < window ? [...ids] : [...ids.slice(record.next % window), ...ids.slice(0, record.next % window)];
    return { epoch, position: record.position, recentIds: oldestFirst, marks: new Map(record.marks), outbox: record.outbox };
  }

  /** The shard's own map of every entity: nothing is copied, so `_keys` is not needed. */
  async load(shard: number, _keys?: readonly string[]): Promise<ReadonlyMap<string, unknown>> {
    return this.#record(shard).entities;
  }

  async commit(shard: number, commit: ShardCommit): Promise<void> {
    const record = this.#record(shard);
    if (commit.epoch !== record.epoch) throw new StaleEpochError(shard, commit.epoch, record.epoch);
    // A repeat of a commit that landed (its reply lost); before any commit there is none to repeat.
    if (record.position >= 0 && commit.position <= record.position) return;
    // forEach, not `for (const [key, state] of …)`: the destructured pairs were a twentieth of a command's allocations.
    const entities = record.entities;
    commit.changes.forEach((state, key) => entities.set(key, state));
    record.position = commit.position;
    const window = this.#dedupeWindow;
    for (const id of commit.appliedIds) record.recentIds[record.next++ % window] = id;
    for (const origin of commit.forgottenMarks) record.marks.delete(origin);
    for (const [origin, seq] of commit.marks) record.marks.set(origin, seq);
    record.outbox = commit.outbox;
    for (const letter of commit.deadLetters) this.deadLetters.push(letter);
  }

  /**
   * Consistent because a commit changes the record in one synchronous step. The state is a
   * copy: the stored object is the owner's, and a reader must not be able to change it.
   */
  async read(shard: number, key: string, origin?: string): Promise<EntityRead> {
    const record = this.#shards.get(shard);
    const found = record?.entities.has(key) ?? false;
    return {
      found,
      state: found ? structuredClone(record!.entities.get(key)) : undefined,
      position: record?.position ?? -1,
      epoch: record?.epoch ?? 0,
      mark: origin === undefined ? undefined : record?.marks.get(origin),
    };
  }

  async *entries(): AsyncIterable<[string, unknown]> {
    for (const record of this.#shards.values()) yield* record.entities;
  }

  async status(shard: number): Promise<{ epoch: number; position: number }> {
    const record = this.#shards.get(shard);
    return { epoch: record?.epoch ?? 0, position: record?.position ?? -1 };
  }

  async close(): Promise<void> {}
}
