import { describeError, StateEncodingError } from '../core/errors.ts';

/**
 * A state as JSON, for a store that keeps states encoded; `StateEncodingError` naming the
 * shard and key when JSON cannot carry it (a BigInt, a cycle, a function). Encode every
 * state of a commit with it before writing anything: the owner then knows the commit did
 * not land and dead-letters the command that made the state.
 */
export function encodeState(shard: number, key: string, state: unknown): string {
  let encoded: string | undefined;
  try {
    encoded = JSON.stringify(state);
  } catch (error) {
    throw new StateEncodingError(shard, key, `JSON.stringify threw ${describeError(error)}`);
  }
  if (encoded === undefined) throw new StateEncodingError(shard, key, `JSON has no encoding for ${typeof state}`);
  return encoded;
}
