import type { Pool, PoolClient } from 'pg';
import type { DeadLetter, DeadLetterQueue } from '../../src/index.ts';
import { quoteIdentifier } from './schema.ts';
import { transaction } from './transaction.ts';

/**
 * Appends `letters` within the caller's transaction: numbers them from the domain's running
 * total (locking its row, so concurrent writers number in turn) and deletes those beyond
 * the newest `capacity`.
 */
export async function appendDeadLetters(client: PoolClient, schema: string, domain: string, letters: readonly DeadLetter[], capacity: number): Promise<void> {
  if (letters.length === 0) return;
  const s = quoteIdentifier(schema);
  const { rows } = await client.query<{ total: string }>(
    `insert into ${s}.dead_letter_totals as t (domain, total) values ($1, $2)
     on conflict (domain) do update set total = t.total + excluded.total
     returning total`,
    [domain, letters.length],
  );
  const total = Number(rows[0]!.total);
  await client.query(
    `insert into ${s}.dead_letters (domain, seq, letter)
     select $1, $2::bigint + ordinality, letter::json from unnest($3::text[]) with ordinality as u(letter, ordinality)`,
    [domain, total - letters.length, letters.map((letter) => JSON.stringify(letter))],
  );
  await client.query(`delete from ${s}.dead_letters where domain = $1 and seq <= $2`, [domain, total - capacity]);
}

/**
 * The dead letters of a domain in PostgreSQL, shared by every owner process and readable
 * with SQL (`select letter from shardline.dead_letters where domain = 'accounts' order by seq`).
 * The store writes a batch's letters in the batch's own transaction.
 */
export class PostgresDeadLetterQueue implements DeadLetterQueue {
  readonly #pool: Pool;
  readonly #schema: string;
  readonly #domain: string;
  /** Newest letters kept. */
  readonly capacity: number;

  constructor(options: { pool: Pool; schema: string; domain: string; capacity: number }) {
    this.#pool = options.pool;
    this.#schema = options.schema;
    this.#domain = options.domain;
    this.capacity = options.capacity;
  }

  async add(letter: DeadLetter): Promise<void> {
    await transaction(this.#pool, (client) => appendDeadLetters(client, this.#schema, this.#domain, [letter], this.capacity));
  }

  async list(limit = 100): Promise<DeadLetter[]> {
    if (limit <= 0) return [];
    const { rows } = await this.#pool.query<{ letter: DeadLetter }>(
      `select letter from (select seq, letter from ${quoteIdentifier(this.#schema)}.dead_letters where domain = $1 order by seq desc limit $2) newest order by seq`,
      [this.#domain, limit],
    );
    return rows.map((row) => row.letter);
  }

  async count(): Promise<number> {
    const { rows } = await this.#pool.query<{ total: string }>(`select total from ${quoteIdentifier(this.#schema)}.dead_letter_totals where domain = $1`, [this.#domain]);
    return Number(rows[0]?.total ?? 0);
  }

  /** The store that made this queue owns the pool; nothing to release here. */
  async close(): Promise<void> {}
}
