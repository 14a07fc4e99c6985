import { z } from 'zod';
import { defineDomain } from '../core/domain.ts';

/**
 * The benchmark's domain: one counter per account, each command adds to it. Every
 * scenario applies the same `add` commands, so the final counters tell lost updates
 * (too low) and duplicates (too high) apart, for locks and queues alike. `get` is the
 * read a user without queries makes today: a command through the queue that changes
 * nothing and replies with the value; the `value` query reads it without a queue.
 */
export const counters = defineDomain({
  name: 'bench-counters',
  initial: (): { value: number } => ({ value: 0 }),
  commands: { add: z.object({ by: z.number().int().positive() }), get: z.object({}) },
  queries: { value: z.object({}) },
}).handle({
  add: (state, { by }) => ({ state: { value: state.value + by } }),
  get: (state) => ({ state, reply: state.value }),
}).query({
  value: (state) => state.value,
});

export type Counters = typeof counters;
