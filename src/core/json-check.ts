import { describeError } from './errors.ts';

/** Where a value stops being JSON, and why: `path` is dotted from the field asked about. */
export interface Unencodable {
  readonly path: string;
  readonly reason: string;
}

/** Deeper than this, the walk stops and reports the nesting itself (JSON.stringify would overflow the stack). */
const MAX_DEPTH = 512;

/**
 * Finds the first value under `holder[key]` that `JSON.stringify` cannot encode — a BigInt,
 * a circular reference, a `toJSON` or a getter that throws — reading it exactly as
 * `JSON.stringify` does (own enumerable keys, `toJSON(key)` first, array indices up to
 * `length`). For error messages after an encode failed: the walk costs what encoding did.
 * Returns `undefined` when nothing is wrong (a value that changes between reads).
 */
export function findUnencodable(holder: object, key: string): Unencodable | undefined {
  return visit(holder, key, key, []);
}

function visit(holder: object, key: string, path: string, ancestors: object[]): Unencodable | undefined {
  let value: unknown;
  let step = 'reading it';
  try {
    value = (holder as Record<string, unknown>)[key];
    if ((typeof value === 'object' && value !== null) || typeof value === 'bigint') {
      const toJSON = (value as { toJSON?: unknown }).toJSON;
      step = 'its toJSON()';
      if (typeof toJSON === 'function') value = toJSON.call(value, key);
    }
  } catch (error) {
    return { path, reason: `${step} threw ${describeError(error)}` };
  }
  if (typeof value === 'bigint') return { path, reason: `got the BigInt ${value}n, which JSON cannot carry (send it as a string)` };
  if (typeof value !== 'object' || value === null) return undefined;
  if (ancestors.includes(value)) return { path, reason: 'got a circular reference to an object that contains it, which JSON cannot carry' };
  if (ancestors.length >= MAX_DEPTH) return { path, reason: `nested deeper than ${MAX_DEPTH} levels` };
  ancestors.push(value);
  try {
    let keys: string[];
    try {
      keys = Array.isArray(value) ? Array.from({ length: value.length }, (_, index) => String(index)) : Object.keys(value);
    } catch (error) {
      return { path, reason: `listing its fields threw ${describeError(error)}` };
    }
    for (const child of keys) {
      const found = visit(value, child, `${path}.${child}`, ancestors);
      if (found !== undefined) return found;
    }
    return undefined;
  } finally {
    ancestors.pop();
  }
}
