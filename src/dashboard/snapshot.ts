import type { DeadLetter, Redrive } from '../state/dead-letters.ts';
import type { HotKey } from '../state/hot-key-board.ts';
import type { ShardOwner } from '../transports/transport.ts';

/** One shard as the dashboard shows it. */
export interface ShardView {
  readonly shard: number;
  /** Who holds it now, when the transport can tell; `null` otherwise. */
  readonly owner: ShardOwner | null;
  /** The store's fencing epoch of the last claim. */
  readonly epoch: number;
  readonly depth: number;
  readonly capacity: number;
  /** Commands applied per second over the last tick (from the store's position); `null` on the first tick. */
  readonly appliedPerSec: number | null;
  /** End-to-end p99 (ms) when this process owns the shard and measures it; `null` otherwise. */
  readonly p99Ms: number | null;
  readonly lastPosition: number;
  /** Dead letters of the shard among the newest kept. */
  readonly deadLetters: number;
  /** The hottest keys its current owner last published, hottest first (empty when none is live). */
  readonly hotKeys: readonly HotKey[];
}

/** One process that owns shards, as the owners seen say. */
export interface ProcessView {
  readonly member: string;
  readonly host?: string;
  readonly pid?: number;
  readonly shards: readonly number[];
  /** `/readyz` of this process when it is the one serving the page; `null` for another process. */
  readonly ready: boolean | null;
}

/** A shard that changed hands between two ticks (`null`: nobody held it). */
export interface OwnershipChange {
  readonly at: number;
  readonly shard: number;
  readonly from: string | null;
  readonly to: string | null;
}

/** A dead letter with its id, as the page lists it. */
export interface LetterView extends Omit<DeadLetter, 'redrive'> {
  readonly letterId: string;
  readonly redrive: Redrive | null;
}

/** The depth of every shard and the total throughput, one point per tick, oldest first. */
export interface History {
  readonly at: readonly number[];
  /** `depth[shard][i]` at `at[i]`. */
  readonly depth: readonly (readonly number[])[];
  /** Applied commands per second over all shards. */
  readonly applied: readonly number[];
}

/** What the page receives on every tick (`GET /events`). */
export interface DashboardSnapshot {
  readonly at: number;
  readonly domain: string;
  readonly transport: string;
  readonly store: string;
  readonly shards: readonly ShardView[];
  readonly processes: readonly ProcessView[];
  /** Newest first. */
  readonly changes: readonly OwnershipChange[];
  readonly history: History;
  readonly deadLetters: { readonly total: number; readonly letters: readonly LetterView[] };
  /** Whether redrive and discard are on (a token is configured). */
  readonly redrive: boolean;
  /** Why the last tick could not read everything, when it could not. */
  readonly error: string | null;
}
