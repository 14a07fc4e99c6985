import { z } from 'zod';
import { defineDomain } from '../core/domain.ts';

/**
 * The benchmark's domain: one counter per account, each command adds to it. Every
 * scenario applies the same `add` commands, so the final counters tell lost updates
 * (too low) and duplicates (too high) apart, for locks and queues alike. `get` is the
 * read a user without queries makes today: a command through the queue that changes
 * nothing and replies with the value; the `value` query reads it without a queue.
 *
 * `add` may carry `at`, the time (ms since the epoch) the open-loop schedule meant to send
 * it; `scheduled` is told of every such command applied, with its shard, so that latency
 * is measured from the schedule and not from the moment a late sender got round to it.
 * That is the one thing a bench handler does besides its state: it reads no clock.
 */
function countersDomain(scheduled?: (shard: number, at: number) => void) {
  return defineDomain({
    name: 'bench-counters',
    initial: (): { value: number } => ({ value: 0 }),
    commands: { add: z.object({ by: z.number().int().positive(), at: z.number().optional() }), get: z.object({}) },
    queries: { value: z.object({}) },
  }).handle({
    // `ctx` is optional so the baselines can call the handler as a plain function.
    add: (state, { by, at }, ctx?) => {
      if (at !== undefined && ctx !== undefined) scheduled?.(ctx.shard, at);
      return { state: { value: state.value + by } };
    },
    get: (state) => ({ state, reply: state.value }),
  }).query({
    value: (state) => state.value,
  });
}

export const counters = countersDomain();

/** The counters, telling `scheduled` of every applied `add` that carries its scheduled time. */
export const scheduledCounters = (scheduled: (shard: number, at: number) => void): Counters => countersDomain(scheduled);

export type Counters = typeof counters;
