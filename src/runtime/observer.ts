/**
 * What the runtime reports as it works. Metrics (prom-client) and logs hang off this;
 * the runtime never imports them. Calls are made on the hot path, aggregated per batch
 * where possible, and must be cheap and must not throw.
 */

import type { HotKey } from '../state/hot-key-board.ts';

/** How an owner disposed of one delivered command. */
export type ApplyOutcome = 'ok' | 'rejected' | 'failed' | 'duplicate';

export interface RuntimeObserver {
  /** `count` commands of `type` were enqueued by a producer. */
  enqueued?(type: string, count: number): void;
  /** An enqueue was refused because the shard was full (reject policy) or the wait timed out (block). */
  enqueueRefused?(shard: number, reason: 'full' | 'timeout'): void;
  /** A producer waited `seconds` for room before its enqueue was accepted. */
  backpressureWait?(seconds: number): void;
  /** `count` commands of `type` ended with `outcome` in one batch. */
  applied?(type: string, outcome: ApplyOutcome, count: number): void;
  /** One batch of a shard was applied and committed in `seconds`. */
  batch?(shard: number, size: number, seconds: number): void;
  /** A command was applied `seconds` after it was sent. */
  endToEnd?(seconds: number): void;
  /** This process gained or lost a shard. */
  ownership?(shard: number, epoch: number, event: 'gained' | 'lost'): void;
  /** `count` follow-ups waited past `followUpForceAfterMs` for room and were admitted beyond capacity. */
  followUpsForced?(shard: number, count: number): void;
  /** An enqueue of follow-ups to shard `target` failed and will be retried, in order. */
  followUpRetried?(target: number): void;
  /** A commit was refused because another owner holds a newer epoch. */
  staleEpoch?(shard: number): void;
  /** A command went to the dead-letter queue. */
  deadLettered?(shard: number, type: string | undefined, error: string): void;
  /** The transport broke its contract on a shard; the owner stopped applying it. */
  contractViolation?(shard: number, error: Error): void;
  /** A shard's hottest keys were published (at most every `hotKeyPublishMs`), hottest first. */
  hotKeys?(shard: number, keys: readonly HotKey[]): void;
}

const HOOKS = [
  'enqueued',
  'enqueueRefused',
  'backpressureWait',
  'applied',
  'batch',
  'endToEnd',
  'ownership',
  'followUpsForced',
  'followUpRetried',
  'staleEpoch',
  'deadLettered',
  'contractViolation',
  'hotKeys',
] as const satisfies readonly (keyof RuntimeObserver)[];

/** One observer that calls each given observer in turn (metrics plus a caller's own counters); class methods included. */
export function combineObservers(...observers: readonly RuntimeObserver[]): RuntimeObserver {
  const combined: Record<string, (...args: never[]) => void> = {};
  for (const hook of HOOKS) {
    const calls = observers
      .filter((o) => typeof o[hook] === 'function')
      .map((o) => (o[hook] as (...args: never[]) => void).bind(o));
    if (calls.length === 0) continue;
    combined[hook] = calls.length === 1 ? calls[0]! : (...args: never[]) => {
      for (const call of calls) call(...args);
    };
  }
  return combined as RuntimeObserver;
}
