import pg, { type Pool, type PoolClient } from 'pg';
import {
  ConnectionError,
  encodeState,
  StaleEpochError,
  type EntityRead,
  type OutboxMessage,
  type ShardCommit,
  type ShardSnapshot,
  type StateStore,
} from '../../src/index.ts';
import { fromText, toText } from './nul-safe-text.ts';
import { parsePostgresStoreOptions, type PostgresStoreOptions, type PostgresStoreSettings } from './options.ts';
import { appendDeadLetters, PostgresDeadLetterQueue } from './postgres-dead-letters.ts';
import { installSchema, quoteIdentifier } from './schema.ts';
import { transaction } from './transaction.ts';

/** Entities read per query by `entries()`. */
const PAGE = 500;

/**
 * A shardline state store in PostgreSQL: entity states, each shard's epoch, position,
 * dedupe window, origin marks and outbox, and the domain's dead letters, in the tables of
 * `schema.ts`. Fencing and atomicity come from one transaction per commit that first locks
 * the shard's row (`select ... for update`) and checks the epoch under that lock: a claim
 * raises the epoch in the same row, so it waits for a commit in flight or makes every later
 * one of the old epoch see the new epoch and write nothing.
 */
export class PostgresStateStore implements StateStore {
  readonly name = 'postgres';
  /** The domain's dead letters, written in the transaction of the batch they belong to. */
  readonly deadLetters: PostgresDeadLetterQueue;
  readonly #pool: Pool;
  readonly #settings: PostgresStoreSettings;
  readonly #s: string;
  #closed = false;

  constructor(options: PostgresStoreOptions) {
    this.#settings = parsePostgresStoreOptions(options);
    this.#pool = this.#settings.pool;
    this.#s = quoteIdentifier(this.#settings.schema);
    this.deadLetters = new PostgresDeadLetterQueue({ pool: this.#pool, schema: this.#settings.schema, domain: this.#settings.domain, capacity: this.#settings.deadLetterCapacity });
  }

  /**
   * Opens a pool on `url`, checks that the server answers, creates the tables unless they
   * exist, and returns a store that ends the pool on `close()`. Throws `ConnectionError`
   * naming the server when it cannot be reached.
   */
  static async connect(url: string, options: Omit<PostgresStoreOptions, 'pool' | 'ownsPool'>): Promise<PostgresStateStore> {
    const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5_000 });
    // An idle client whose connection dies emits 'error' on the pool; the next query gets a fresh one.
    pool.on('error', () => undefined);
    try {
      const store = new PostgresStateStore({ ...options, pool, ownsPool: true });
      await installSchema(pool, store.#settings.schema);
      return store;
    } catch (error) {
      await pool.end().catch(() => undefined);
      if ((error as { code?: string }).code === 'INVALID_CONFIG') throw error;
      throw new ConnectionError(`postgres at ${serverOf(url)}`, `expected a server that accepts the connection and the schema, got ${(error as Error).message}`, { cause: error });
    }
  }

  async claim(shard: number, offeredEpoch: number): Promise<ShardSnapshot> {
    const domain = this.#settings.domain;
    return transaction(this.#pool, async (client) => {
      const { rows } = await client.query<{ epoch: string; position: string; outbox: OutboxMessage[] }>(
        `insert into ${this.#s}.shards as s (domain, shard, epoch) values ($1, $2, greatest(1, $3::bigint))
         on conflict (domain, shard) do update set epoch = greatest(s.epoch + 1, $3::bigint)
         returning epoch, position, outbox`,
        [domain, shard, offeredEpoch],
      );
      const ids = await client.query<{ id: string }>(
        `select id from (select seq, id from ${this.#s}.recent_ids where domain = $1 and shard = $2 order by seq desc limit $3) newest order by seq`,
        [domain, shard, this.#settings.dedupeWindow],
      );
      const marks = await client.query<{ origin: string; seq: string }>(`select origin, seq from ${this.#s}.origin_marks where domain = $1 and shard = $2`, [domain, shard]);
      const row = rows[0]!;
      return {
        epoch: Number(row.epoch),
        position: Number(row.position),
        recentIds: ids.rows.map((r) => fromText(r.id)),
        marks: new Map(marks.rows.map((r) => [fromText(r.origin), Number(r.seq)])),
        outbox: row.outbox,
      };
    });
  }

  async load(shard: number, keys: readonly string[]): Promise<Map<string, unknown>> {
    const found = new Map<string, unknown>();
    if (keys.length === 0) return found;
    const { rows } = await this.#pool.query<{ key: string; state: unknown }>(
      `select key, state from ${this.#s}.entities where domain = $1 and shard = $2 and key = any($3::text[])`,
      [this.#settings.domain, shard, keys.map(toText)],
    );
    for (const row of rows) found.set(fromText(row.key), row.state);
    return found;
  }

  async commit(shard: number, commit: ShardCommit): Promise<void> {
    // Encoded before the transaction: a state JSON cannot carry is refused with nothing written.
    const states = [...commit.changes].map(([key, state]) => [toText(key), encodeState(shard, key, state)] as const);
    await transaction(this.#pool, async (client) => {
      const domain = this.#settings.domain;
      const { rows } = await client.query<{ epoch: string; position: string; next_id: string }>(
        `select epoch, position, next_id from ${this.#s}.shards where domain = $1 and shard = $2 for update`,
        [domain, shard],
      );
      const current = rows[0] === undefined ? 0 : Number(rows[0].epoch);
      if (commit.epoch !== current) throw new StaleEpochError(shard, commit.epoch, current);
      if (rows[0] === undefined) {
        await client.query(`insert into ${this.#s}.shards (domain, shard, epoch) values ($1, $2, 0)`, [domain, shard]);
      }
      const stored = rows[0] === undefined ? -1 : Number(rows[0].position);
      // A repeat of a commit that landed (its reply lost); before any commit there is none to repeat.
      if (stored >= 0 && commit.position <= stored) return;
      const nextId = (rows[0] === undefined ? 0 : Number(rows[0].next_id)) + commit.appliedIds.length;
      await this.#writeEntities(client, shard, states);
      await this.#writeIds(client, shard, commit.appliedIds, nextId);
      await this.#writeMarks(client, shard, commit.marks, commit.forgottenMarks);
      await appendDeadLetters(client, this.#settings.schema, domain, commit.deadLetters, this.#settings.deadLetterCapacity);
      await client.query(`update ${this.#s}.shards set position = $3, next_id = $4, outbox = $5::json where domain = $1 and shard = $2`, [
        domain,
        shard,
        commit.position,
        nextId,
        JSON.stringify(commit.outbox.map((message) => ({ key: message.key, value: message.value }))),
      ]);
    });
  }

  /** Writes `[key as text, state as JSON]` pairs. */
  async #writeEntities(client: PoolClient, shard: number, entities: readonly (readonly [string, string])[]): Promise<void> {
    if (entities.length === 0) return;
    const keys = entities.map(([key]) => key);
    const states = entities.map(([, state]) => state);
    await client.query(
      `insert into ${this.#s}.entities as e (domain, shard, key, state)
       select $1, $2, key, state::json from unnest($3::text[], $4::text[]) as u(key, state)
       on conflict (domain, shard, key) do update set state = excluded.state`,
      [this.#settings.domain, shard, keys, states],
    );
  }

  /** Appends ids numbered up to `nextId` (exclusive) and drops those older than the window. */
  async #writeIds(client: PoolClient, shard: number, ids: readonly string[], nextId: number): Promise<void> {
    if (ids.length === 0) return;
    const domain = this.#settings.domain;
    await client.query(
      `insert into ${this.#s}.recent_ids (domain, shard, seq, id)
       select $1, $2, $3::bigint + ordinality - 1, id from unnest($4::text[]) with ordinality as u(id, ordinality)`,
      [domain, shard, nextId - ids.length, ids.map(toText)],
    );
    await client.query(`delete from ${this.#s}.recent_ids where domain = $1 and shard = $2 and seq < $3`, [domain, shard, nextId - this.#settings.dedupeWindow]);
  }

  /** Deletes the forgotten origins, then writes the raised marks (an origin in both keeps its new mark). */
  async #writeMarks(client: PoolClient, shard: number, marks: ReadonlyMap<string, number>, forgotten: readonly string[]): Promise<void> {
    const domain = this.#settings.domain;
    if (forgotten.length > 0) {
      await client.query(`delete from ${this.#s}.origin_marks where domain = $1 and shard = $2 and origin = any($3::text[])`, [domain, shard, forgotten.map(toText)]);
    }
    if (marks.size === 0) return;
    await client.query(
      `insert into ${this.#s}.origin_marks as m (domain, shard, origin, seq)
       select $1, $2, origin, seq from unnest($3::text[], $4::bigint[]) as u(origin, seq)
       on conflict (domain, shard, origin) do update set seq = excluded.seq`,
      [domain, shard, [...marks.keys()].map(toText), [...marks.values()]],
    );
  }

  /**
   * One statement, so one snapshot: a commit's transaction is seen whole or not at all. The
   * state comes back as text, since `json` null and a missing row both parse to null.
   */
  async read(shard: number, key: string, origin?: string): Promise<EntityRead> {
    const { rows } = await this.#pool.query<{ epoch: string | null; position: string | null; state: string | null; mark: string | null }>(
      `select s.epoch, s.position,
         (select e.state::text from ${this.#s}.entities e where e.domain = $1 and e.shard = $2 and e.key = $3) as state,
         (select m.seq from ${this.#s}.origin_marks m where m.domain = $1 and m.shard = $2 and m.origin = $4) as mark
       from (values (1)) as one left join ${this.#s}.shards s on s.domain = $1 and s.shard = $2`,
      [this.#settings.domain, shard, toText(key), origin === undefined ? null : toText(origin)],
    );
    const row = rows[0]!;
    return {
      found: row.state !== null,
      state: row.state === null ? undefined : JSON.parse(row.state),
      position: Number(row.position ?? -1),
      epoch: Number(row.epoch ?? 0),
      mark: row.mark === null ? undefined : Number(row.mark),
    };
  }

  async *entries(): AsyncIterable<[string, unknown]> {
    let after: [number, string] = [-1, ''];
    for (;;) {
      const { rows } = await this.#pool.query<{ shard: number; key: string; state: unknown }>(
        `select shard, key, state from ${this.#s}.entities where domain = $1 and (shard, key) > ($2, $3) order by shard, key limit ${PAGE}`,
        [this.#settings.domain, ...after],
      );
      for (const row of rows) yield [fromText(row.key), row.state];
      if (rows.length < PAGE) return;
      const last = rows[rows.length - 1]!;
      after = [last.shard, last.key];
    }
  }

  async status(shard: number): Promise<{ epoch: number; position: number }> {
    const { rows } = await this.#pool.query<{ epoch: string; position: string }>(`select epoch, position from ${this.#s}.shards where domain = $1 and shard = $2`, [this.#settings.domain, shard]);
    return { epoch: Number(rows[0]?.epoch ?? 0), position: Number(rows[0]?.position ?? -1) };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#settings.ownsPool) await this.#pool.end();
  }
}

/** Where `url` points (scheme, host, port, database), without the user or password: fit for messages. */
function serverOf(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return 'an unparsable URL';
  }
}
