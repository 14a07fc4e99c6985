// Option parsing shared by every layer: zod issues turned into `path: expected ..., got ...` lines.
import { z } from 'zod';
import { ConfigError } from '../core/errors.ts';

/** Turns zod issues into `path: expected ..., got ...` lines, every one of them. */
export function describeIssues(error: z.ZodError, prefix = ''): string[] {
  return error.issues.map((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.') || '(root)';
    const input = 'input' in issue ? `, got ${showValue(issue.input)}` : '';
    return `${path}: ${issue.message}${input}`;
  });
}

/** Longest rendering of a value in a message, in characters. */
const MAX_SHOWN = 200;

/**
 * A value as a message shows it: JSON, cut to {@link MAX_SHOWN} characters; a BigInt as
 * `10n`; what JSON cannot show (a cycle, a throwing `toJSON` or getter) by its type.
 * Never throws, whatever the value: bad input must not turn its own error into another.
 */
export function showValue(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  let shown: string | undefined;
  try {
    shown = JSON.stringify(value);
  } catch {
    return `${Array.isArray(value) ? 'array' : typeof value} (not JSON)`;
  }
  if (shown === undefined) return typeof value;
  return shown.length <= MAX_SHOWN ? shown : `${shown.slice(0, MAX_SHOWN)}… (${shown.length} characters)`;
}

/** Parses `value` with `schema`, or throws one `ConfigError` listing every wrong field. */
export function parseOptions<T extends z.ZodType>(schema: T, value: unknown, prefix = ''): z.output<T> {
  const result = schema.safeParse(value, { reportInput: true });
  if (!result.success) throw new ConfigError(describeIssues(result.error, prefix));
  return result.data;
}
