// Option parsing shared by every layer: zod issues turned into `path: expected ..., got ...` lines.
import { z } from 'zod';
import { ConfigError } from '../core/errors.ts';

/** Turns zod issues into `path: expected ..., got ...` lines, every one of them. */
export function describeIssues(error: z.ZodError, prefix = ''): string[] {
  return error.issues.map((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.') || '(root)';
    const input = 'input' in issue ? `, got ${JSON.stringify(issue.input) ?? String(issue.input)}` : '';
    return `${path}: ${issue.message}${input}`;
  });
}

/** Parses `value` with `schema`, or throws one `ConfigError` listing every wrong field. */
export function parseOptions<T extends z.ZodType>(schema: T, value: unknown, prefix = ''): z.output<T> {
  const result = schema.safeParse(value, { reportInput: true });
  if (!result.success) throw new ConfigError(describeIssues(result.error, prefix));
  return result.data;
}
