import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startPostgres } from '../../test/support/postgres.ts';
import { startRedis } from '../../test/support/redis.ts';
import { auditSql, runAccountsDemo } from './accounts-demo.ts';
import { quoteIdentifier } from './schema.ts';

const redis = await startRedis();
const postgres = redis === undefined ? undefined : await startPostgres();
afterAll(async () => {
  await postgres?.close();
  await redis?.close();
});

describe.skipIf(redis === undefined || postgres === undefined)('accounts demo on BullMQ with the PostgreSQL store', () => {
  it('conserves money and never overdraws, by a SQL query over the entities table, while one owner hands its shards to the other', async () => {
    const summary = await runAccountsDemo({ redisUrl: redis!.url, databaseUrl: postgres!.url, accounts: 40, transfers: 800, timeoutMs: 90_000 });

    expect(summary.transfersAccepted).toBe(800);
    expect(summary.transfersApplied + summary.transfersRejected).toBe(800);
    expect(summary.failed).toBe(0);
    // 4 shards granted to the two owners at start, then the stopped owner's shards again to the survivor.
    expect(summary.shardsGained).toBeGreaterThan(4);
    expect(summary.accounts).toBe(40);
    expect(summary.moneyAfter).toBe(summary.moneyBefore);
    expect(summary.negativeBalances).toBe(0);

    // The same audit from a connection of the test's own, and every account's balance read with SQL.
    const client = new pg.Client(postgres!.url);
    await client.connect();
    try {
      const audit = (await client.query(auditSql(summary.schema))).rows[0];
      expect(audit).toEqual({ accounts: 40, money: String(summary.moneyBefore), negative: 0 });
      const balances = await client.query<{ key: string; balance: number }>(
        `select key, (state->>'balance')::int as balance from ${quoteIdentifier(summary.schema)}.entities where domain = 'accounts' and (state->>'open')::boolean order by key`,
      );
      expect(balances.rows).toHaveLength(40);
      expect(balances.rows.reduce((sum, row) => sum + row.balance, 0)).toBe(summary.moneyBefore);
    } finally {
      await client.query(`drop schema ${quoteIdentifier(summary.schema)} cascade`);
      await client.end();
    }
  }, 120_000);
});
