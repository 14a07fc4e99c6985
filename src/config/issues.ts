import type { z } from 'zod';
import { redactSecrets } from '../common/urls.ts';
import { ConfigError } from '../core/errors.ts';

/** Where each overridden config path came from (`env SHARDLINE_METRICS_PORT`, `flag --metrics-port`). */
export type Provenance = ReadonlyMap<string, string>;

/**
 * Turns zod issues (parsed with `reportInput: true`) into one line per wrong field:
 * `path: what was expected, got <value> (from <source>)`. An unknown key becomes one line
 * of its own, so a typo is named by its full path.
 */
export function formatIssues(issues: readonly z.core.$ZodIssue[], prefix: readonly string[] = [], provenance: Provenance = new Map()): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path.map(String)];
    if (issue.code === 'unrecognized_keys') {
      const input = issue.input as Record<string, unknown> | undefined;
      for (const key of issue.keys) {
        lines.push(line([...path, key], 'unknown field, expected no such key', input?.[key], provenance));
      }
      continue;
    }
    lines.push(line(path, issue.message.replace(/^Invalid (input|option): /, '').replace(/, received [a-z]+$/, ''), issue.input, provenance));
  }
  return lines;
}

function line(path: readonly string[], message: string, input: unknown, provenance: Provenance): string {
  const name = path.join('.') || '(root)';
  const source = provenance.get(name);
  return `${name}: ${message}, got ${show(input)}${source === undefined ? '' : ` (from ${source})`}`;
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = redactSecrets(JSON.stringify(value) ?? String(value));
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Parses `value` with `schema`, or throws one `ConfigError` listing every wrong field with what was given. */
export function parseChecked<T extends z.ZodType>(schema: T, value: unknown, prefix: readonly string[] = []): z.output<T> {
  const result = schema.safeParse(value, { reportInput: true });
  if (!result.success) throw new ConfigError(formatIssues(result.error.issues, prefix));
  return result.data;
}
