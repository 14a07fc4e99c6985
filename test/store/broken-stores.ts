import { ClosedError, describeError, StaleEpochError, StateEncodingError } from '../../src/core/errors.ts';
import { MemoryDeadLetterQueue, type DeadLetterQueue } from '../../src/state/dead-letters.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';
import { StoreDecorator } from '../support/decorators.ts';
import type { EntityRead, ShardCommit, ShardSnapshot } from '../../src/state/state-store.ts';

/** The window and dead-letter capacity every store here is made with. */
export const WINDOW = 5;
export const CAPACITY = 20;

/** Forwards everything to a memory store shared by every instance of one check; the broken stores override what they get wrong. */
export class Forwarding extends StoreDecorator<MemoryStateStore> {
  constructor(inner: MemoryStateStore) {
    super('forwarding', inner);
  }
}

/** How an {@link EpochLayer} issues epochs and fences, correctly or not. */
export interface EpochRules {
  /** The epoch a claim issues, given the stored one and the offered one. */
  next(stored: number, offered: number): number;
  /** Whether commits of any other epoch are refused. */
  readonly fences: boolean;
  /** Whether a claim lets other work run between reading the stored epoch and writing the new one. */
  readonly splitClaim: boolean;
}

export const CORRECT_EPOCHS: EpochRules = { next: (stored, offered) => Math.max(stored + 1, offered), fences: true, splitClaim: false };

/**
 * Keeps the epochs itself (in `epochs`, shared by every instance of one check), by `rules`,
 * and the rest in the memory store, which it always commits to at that store's own epoch.
 */
export class EpochLayer extends Forwarding {
  override readonly name = 'epoch-layer';
  readonly #epochs: Map<number, number>;
  readonly #rules: EpochRules;

  constructor(inner: MemoryStateStore, epochs: Map<number, number>, rules: EpochRules) {
    super(inner);
    this.#epochs = epochs;
    this.#rules = rules;
  }

  override async claim(shard: number, offeredEpoch: number): Promise<ShardSnapshot> {
    const stored = this.#epochs.get(shard) ?? 0;
    if (this.#rules.splitClaim) await new Promise((resolve) => setImmediate(resolve));
    const epoch = this.#rules.next(stored, offeredEpoch);
    this.#epochs.set(shard, epoch);
    return { ...(await this.inner.claim(shard, 0)), epoch };
  }

  override async commit(shard: number, commit: ShardCommit): Promise<void> {
    const current = this.#epochs.get(shard) ?? 0;
    if (this.#rules.fences && commit.epoch !== current) throw new StaleEpochError(shard, commit.epoch, current);
    await this.inner.commit(shard, { ...commit, epoch: (await this.inner.status(shard)).epoch });
  }

  override async status(shard: number): Promise<{ epoch: number; position: number }> {
    return { epoch: this.#epochs.get(shard) ?? 0, position: (await this.inner.status(shard)).position };
  }

  override async read(shard: number, key: string, origin?: string): Promise<EntityRead> {
    return { ...(await this.inner.read(shard, key, origin)), epoch: this.#epochs.get(shard) ?? 0 };
  }
}

/** Reports the position as never written: status and claims say -1. */
export class ForgetsPosition extends Forwarding {
  override async claim(shard: number, offeredEpoch: number): Promise<ShardSnapshot> {
    return { ...(await this.inner.claim(shard, offeredEpoch)), position: -1 };
  }

  override async status(shard: number): Promise<{ epoch: number; position: number }> {
    return { ...(await this.inner.status(shard)), position: -1 };
  }
}

/** A part of a commit that a broken store may leave out. */
export type CommitPart = 'marks' | 'forgottenMarks' | 'outbox' | 'deadLetters' | 'appliedIds';

/** Commits all but one part of the batch. */
export class Drops extends Forwarding {
  readonly #part: CommitPart;

  constructor(inner: MemoryStateStore, part: CommitPart) {
    super(inner);
    this.#part = part;
  }

  override commit(shard: number, commit: ShardCommit): Promise<void> {
    return this.inner.commit(shard, { ...commit, [this.#part]: this.#part === 'marks' ? new Map() : [] });
  }
}

/** Keeps origin marks in the instance, not the backend: a reload (another instance) sees none. */
export class MarksInProcess extends Forwarding {
  readonly #marks = new Map<number, Map<string, number>>();

  override async commit(shard: number, commit: ShardCommit): Promise<void> {
    await this.inner.commit(shard, { ...commit, marks: new Map(), forgottenMarks: [] });
    const marks = this.#marks.get(shard) ?? new Map<string, number>();
    for (const origin of commit.forgottenMarks) marks.delete(origin);
    for (const [origin, seq] of commit.marks) marks.set(origin, seq);
    this.#marks.set(shard, marks);
  }

  override async claim(shard: number, offeredEpoch: number): Promise<ShardSnapshot> {
    return { ...(await this.inner.claim(shard, offeredEpoch)), marks: new Map(this.#marks.get(shard)) };
  }
}

/** Changes what a claim returns of the dedupe window. */
export class BentWindow extends Forwarding {
  readonly #bend: (ids: readonly string[]) => string[];

  constructor(inner: MemoryStateStore, bend: (ids: readonly string[]) => string[]) {
    super(inner);
    this.#bend = bend;
  }

  override async claim(shard: number, offeredEpoch: number): Promise<ShardSnapshot> {
    const snapshot = await this.inner.claim(shard, offeredEpoch);
    return { ...snapshot, recentIds: this.#bend(snapshot.recentIds) };
  }
}

/** Writes a batch's dead letters in a second step, after the rest of the commit landed. */
export class LettersLater extends Forwarding {
  override async commit(shard: number, commit: ShardCommit): Promise<void> {
    await this.inner.commit(shard, { ...commit, deadLetters: [] });
    await new Promise((resolve) => setImmediate(resolve));
    for (const letter of commit.deadLetters) this.inner.deadLetters.push(letter);
  }
}

/** Writes the dead letters of a repeated commit again (no repeat detection for them). */
export class RepeatsLetters extends Forwarding {
  override async commit(shard: number, commit: ShardCommit): Promise<void> {
    const { position } = await this.inner.status(shard);
    if (position >= 0 && commit.position <= position) for (const letter of commit.deadLetters) this.inner.deadLetters.push(letter);
    await this.inner.commit(shard, commit);
  }
}

/** Answers status() by claiming the shard. */
export class StatusClaims extends Forwarding {
  override async status(shard: number): Promise<{ epoch: number; position: number }> {
    const { epoch, position } = await this.inner.claim(shard, 0);
    return { epoch, position };
  }
}

/** Stores states through a Latin-1 encoding, losing every character beyond it. */
export class Latin1States extends Forwarding {
  override commit(shard: number, commit: ShardCommit): Promise<void> {
    const changes = new Map([...commit.changes].map(([key, state]) => [key, JSON.parse(Buffer.from(JSON.stringify(state), 'latin1').toString('latin1'))]));
    return this.inner.commit(shard, { ...commit, changes });
  }
}

/** Gives keys never written an empty state instead of leaving them absent. */
export class InventsStates extends Forwarding {
  override async load(shard: number, keys: readonly string[]): Promise<ReadonlyMap<string, unknown>> {
    const found = new Map(await this.inner.load(shard, keys));
    for (const key of keys) if (!found.has(key)) found.set(key, {});
    return found;
  }
}

/** Reads the entity, then (a turn later, as a second query would) the position and the mark. */
export class ReadsInTwoSteps extends Forwarding {
  override async read(shard: number, key: string, origin?: string): Promise<EntityRead> {
    const entity = await this.inner.read(shard, key);
    await new Promise((resolve) => setImmediate(resolve));
    const { position, epoch, mark } = await this.inner.read(shard, key, origin);
    return { found: entity.found, state: entity.state, position, epoch, mark };
  }
}

/** Hands readers the stored state object itself, which a reader can then change. */
export class SharesStoredState extends Forwarding {
  override async read(shard: number, key: string, origin?: string): Promise<EntityRead> {
    const read = await this.inner.read(shard, key, origin);
    return read.found ? { ...read, state: (await this.inner.load(shard, [key])).get(key) } : read;
  }
}

/** Lists dead letters newest first. */
export class LettersNewestFirst extends Forwarding {
  override get deadLetters(): DeadLetterQueue {
    const queue = this.inner.deadLetters;
    return {
      add: (letter) => queue.add(letter),
      list: async (limit) => (await queue.list(limit)).reverse(),
      count: () => queue.count(),
      close: () => queue.close(),
    };
  }
}

/** Throws on a second close(). */
export class ClosesOnce extends Forwarding {
  #closed = false;

  override async close(): Promise<void> {
    if (this.#closed) throw new ClosedError('store');
    this.#closed = true;
  }
}

/** A fresh memory store with the window and capacity above. */
export function memoryStore(): MemoryStateStore {
  return new MemoryStateStore({ dedupeWindow: WINDOW, deadLetters: new MemoryDeadLetterQueue({ capacity: CAPACITY }) });
}

/** Encodes states one by one as it writes them: those before a bad one land, then it refuses the commit. */
export class EncodesMidway extends Forwarding {
  override async commit(shard: number, commit: ShardCommit): Promise<void> {
    const written = new Map<string, unknown>();
    for (const [key, state] of commit.changes) {
      try {
        JSON.stringify(state);
      } catch (error) {
        await this.inner.commit(shard, { ...commit, changes: written });
        throw new StateEncodingError(shard, key, describeError(error));
      }
      written.set(key, state);
    }
    await this.inner.commit(shard, commit);
  }
}
