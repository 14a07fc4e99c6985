import type { Pool } from 'pg';
import { transaction } from './transaction.ts';

/**
 * The tables of the PostgreSQL state store, in the schema `schema`; every row carries its
 * domain, so one schema holds many domains. `json` (not `jsonb`) keeps states, outboxes
 * and dead letters exactly as written, a `\u0000` in a string included, which `jsonb`
 * refuses: a handler's state must never make a commit fail forever.
 */
export function schemaSql(schema: string): string {
  const s = quoteIdentifier(schema);
  return `
create schema if not exists ${s};
-- One row per shard: the fencing epoch, the last applied position, the next dedupe id's
-- number and the outbox of follow-ups committed but maybe not yet sent.
create table if not exists ${s}.shards (
  domain text not null,
  shard integer not null,
  epoch bigint not null,
  position bigint not null default -1,
  next_id bigint not null default 0,
  outbox json not null default '[]',
  primary key (domain, shard)
);
-- Entity states: what a user queries (state->>'balance').
create table if not exists ${s}.entities (
  domain text not null,
  shard integer not null,
  key text not null,
  state json not null,
  primary key (domain, shard, key)
);
-- The dedupe window: ids of applied commands without an origin, numbered per shard.
create table if not exists ${s}.recent_ids (
  domain text not null,
  shard integer not null,
  seq bigint not null,
  id text not null,
  primary key (domain, shard, seq)
);
-- The highest applied seq per command origin.
create table if not exists ${s}.origin_marks (
  domain text not null,
  shard integer not null,
  origin text not null,
  seq bigint not null,
  primary key (domain, shard, origin)
);
-- Dead letters, numbered per domain by the running total below (the newest are kept).
create table if not exists ${s}.dead_letters (
  domain text not null,
  seq bigint not null,
  letter json not null,
  primary key (domain, seq)
);
create table if not exists ${s}.dead_letter_totals (
  domain text primary key,
  total bigint not null
);
`;
}

/**
 * Creates the schema and its tables unless they exist. Safe to run from several processes
 * at once: a transaction-scoped advisory lock makes them take turns (concurrent
 * `create ... if not exists` can otherwise fail on the catalog's unique index).
 */
export async function installSchema(pool: Pool, schema: string): Promise<void> {
  await transaction(pool, async (client) => {
    await client.query('select pg_advisory_xact_lock(hashtext($1))', [`shardline-schema:${schema}`]);
    await client.query(schemaSql(schema));
  });
}

/** `name` as a quoted SQL identifier. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
