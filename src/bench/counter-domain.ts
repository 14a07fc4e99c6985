import { z } from 'zod';
import { defineDomain } from '../core/domain.ts';

/**
 * The benchmark's domain: one counter per account, each command adds to it. Every
 * scenario applies the same `add` commands, so the final counters tell lost updates
 * (too low) and duplicates (too high) apart, for locks and queues alike.
 */
export const counters = defineDomain({
  name: 'bench-counters',
  initial: (): { value: number } => ({ value: 0 }),
  commands: { add: z.object({ by: z.number().int().positive() }) },
}).handle({
  add: (state, { by }) => ({ state: { value: state.value + by } }),
});

export type Counters = typeof counters;
