import type { Pool } from 'pg';
import { z } from 'zod';
import { ConfigError } from '../../src/index.ts';

const positiveInt = z.number().int().positive();

/** Options of {@link PostgresStateStore}: every field but `pool` and `domain` has a default; unknown fields are refused. */
export const postgresStoreOptionsSchema = z.strictObject({
  /** A node-postgres pool; the store takes a client from it per operation. */
  pool: z.custom<Pool>((value) => typeof (value as Pool | undefined)?.connect === 'function' && typeof (value as Pool).query === 'function', 'expected a pg Pool'),
  /** The domain whose entities this store holds; a column of every table. */
  domain: z.string().min(1).max(200).refine((value) => !value.includes('\u0000'), 'expected no NUL character'),
  /** Schema of the tables (see `schema.ts`). @defaultValue `shardline` */
  schema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a lower-case SQL identifier of at most 63 characters').default('shardline'),
  /** Recent command ids per shard kept for dedupe. @defaultValue 10000 */
  dedupeWindow: positiveInt.max(1_000_000).default(10_000),
  /** Dead letters kept (older ones are deleted, still counted). @defaultValue 10000 */
  deadLetterCapacity: positiveInt.max(10_000_000).default(10_000),
  /** End `pool` when the store is closed. @defaultValue false */
  ownsPool: z.boolean().default(false),
});

/** Options as given. */
export type PostgresStoreOptions = z.input<typeof postgresStoreOptionsSchema>;

/** Options after defaults and validation. */
export type PostgresStoreSettings = z.output<typeof postgresStoreOptionsSchema>;

/** Validates `options` once, reporting every wrong field with its path in one `ConfigError`, and fills in defaults. */
export function parsePostgresStoreOptions(options: unknown): PostgresStoreSettings {
  const parsed = postgresStoreOptionsSchema.safeParse(options, { reportInput: true });
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((issue) => {
      const path = ['postgres', ...issue.path.map(String)].join('.');
      // The pool is not printed (its options may hold a password), nor the whole options object.
      const shown = 'input' in issue && issue.path.length > 0 && issue.path[0] !== 'pool';
      const got = shown ? `, got ${JSON.stringify(issue.input) ?? String(issue.input)}` : '';
      return `${path}: ${issue.message}${got}`;
    }),
  );
}
