import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, it } from 'vitest';
import { describeStoreConformance } from '../../src/testing/index.ts';
import { startPostgres } from '../../test/support/postgres.ts';
import { PostgresStateStore } from './postgres-store.ts';
import { quoteIdentifier } from './schema.ts';

const postgres = await startPostgres();
afterAll(() => postgres?.close());

if (postgres === undefined) {
  describe.skip('store conformance: postgres (no PostgreSQL binaries and no DATABASE_URL)', () => {
    it('needs initdb and pg_ctl, or DATABASE_URL', () => {});
  });
} else {
  const url = postgres.url;
  describeStoreConformance({
    name: 'postgres',
    dedupeWindow: 5,
    deadLetterCapacity: 20,
    // A fresh schema per check; every instance has its own pool, as separate processes would.
    async setup() {
      const schema = `conformance_${randomBytes(4).toString('hex')}`;
      return {
        create: () => PostgresStateStore.connect(url, { domain: 'conformance', schema, dedupeWindow: 5, deadLetterCapacity: 20 }),
        async dispose() {
          const client = new pg.Client(url);
          await client.connect();
          await client.query(`drop schema if exists ${quoteIdentifier(schema)} cascade`);
          await client.end();
        },
      };
    },
  });
}
