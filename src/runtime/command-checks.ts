// The checks every command passes before it leaves this process, from a producer or from
// a handler's `ctx.emit`: each failure is an `InvalidCommandError` naming the field.
import { z } from 'zod';
import { commandBytesUpperBound, type Command } from '../core/command.ts';
import { describeError, InvalidCommandError } from '../core/errors.ts';
import { findUnencodable } from '../core/json-check.ts';
import { describeIssues } from '../common/options.ts';

/** Longest entity key accepted, in UTF-16 code units. */
const MAX_KEY_LENGTH = 1024;

/**
 * Refuses a key that is not a non-empty string of at most {@link MAX_KEY_LENGTH} code
 * units, or that is not well-formed UTF-16: a lone surrogate has no UTF-8 encoding, so a
 * store that writes keys as UTF-8 (Redis) would turn `\uD800x` and `\uDC00x` into one key.
 */
export function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new InvalidCommandError('key', `expected a non-empty string, got ${describeKey(key)}`);
  }
  if (key.length > MAX_KEY_LENGTH) {
    throw new InvalidCommandError('key', `expected at most ${MAX_KEY_LENGTH} characters, got ${key.length}`);
  }
  const lone = loneSurrogateOf(key);
  if (lone !== undefined) throw new InvalidCommandError('key', `expected well-formed UTF-16 (surrogates only in high-low pairs), got ${lone}`);
}

/** Where `text` is not well-formed UTF-16 (`a lone surrogate \ud800 at index 0`), or `undefined` when it is. */
export function loneSurrogateOf(text: string): string | undefined {
  if (text.isWellFormed()) return undefined;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0xd800 || unit > 0xdfff) continue;
    const next = text.charCodeAt(i + 1);
    if (unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) i++;
    else return `a lone surrogate \\u${unit.toString(16)} at index ${i}`;
  }
  return undefined;
}

/**
 * Parses a payload with its schema. A payload the schema refuses names the path of the
 * first wrong value; one that throws while zod reads it (a getter, a proxy) names where.
 */
export function parsePayload(schema: z.ZodType, payload: unknown): unknown {
  return parseWith(schema, payload, 'payload', (field, reason, cause) => new InvalidCommandError(field, reason, { cause }));
}

/**
 * Parses `value` with `schema`; a refusal is the error `fail` makes, given the path of the
 * first wrong value under `root` (`payload.items.3`, `params.amount`) and every issue.
 */
export function parseWith(schema: z.ZodType, value: unknown, root: string, fail: (field: string, reason: string, cause: unknown) => Error): unknown {
  try {
    return schema.parse(value);
  } catch (error) {
    if (!(error instanceof z.ZodError)) throw unreadable(value, root, error, fail);
    let detailed: z.ZodError = error;
    try {
      // Parsed again on this rare path only, so that each issue names the value it got.
      detailed = schema.safeParse(value, { reportInput: true }).error ?? error;
    } catch (again) {
      throw unreadable(value, root, again, fail);
    }
    const field = [root, ...detailed.issues[0]!.path.map(String)].join('.');
    throw fail(field, describeIssues(detailed, root).join('; '), detailed);
  }
}

function unreadable(value: unknown, root: string, error: unknown, fail: (field: string, reason: string, cause: unknown) => Error): Error {
  const found = findUnencodable({ [root]: value }, root);
  if (found !== undefined) return fail(found.path, found.reason, error);
  return fail(root, `checking it against its schema threw ${describeError(error)}`, error);
}

/**
 * Makes sure `command` can travel: its JSON is at most `limitBytes` in UTF-8 and every
 * value in its payload is JSON. Returns `undefined` for a plain payload well under the
 * limit (proved without encoding; a transport encodes it when it must), otherwise the
 * encoding, so that it is made once and the command arrives the same way everywhere.
 */
export function encodeChecked(command: Command, limitBytes: number): string | undefined {
  if (commandBytesUpperBound(command, limitBytes) <= limitBytes) return undefined;
  let value: string;
  try {
    value = JSON.stringify(command);
  } catch (error) {
    const found = findUnencodable(command, 'payload');
    if (found !== undefined) throw new InvalidCommandError(found.path, found.reason, { cause: error });
    throw new InvalidCommandError('payload', `cannot be encoded as JSON: ${describeError(error)}`, { cause: error });
  }
  const bytes = Buffer.byteLength(value);
  if (bytes > limitBytes) throw new InvalidCommandError('size', `encoded command is ${bytes} bytes, over maxCommandBytes ${limitBytes}`);
  return value;
}

function describeKey(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  return typeof value;
}
