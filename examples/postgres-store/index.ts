// A shardline state store in PostgreSQL: what a user plugs into `new Owner({ store })`.
export { PostgresStateStore } from './postgres-store.ts';
export { PostgresDeadLetterQueue } from './postgres-dead-letters.ts';
export { installSchema, schemaSql } from './schema.ts';
export { parsePostgresStoreOptions, postgresStoreOptionsSchema, type PostgresStoreOptions, type PostgresStoreSettings } from './options.ts';
