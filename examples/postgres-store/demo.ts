// Runs the accounts demo on BullMQ and PostgreSQL and prints the summary as JSON on the last line.
//   REDIS_URL=redis://127.0.0.1:6379 DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx examples/postgres-store/demo.ts
// The tables stay in the printed schema (demo_<random>) so that they can be queried afterwards.
import { runAccountsDemo } from './accounts-demo.ts';

const summary = await runAccountsDemo({
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  databaseUrl: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  transfers: Number(process.env.TRANSFERS ?? 2_000),
});
console.log(JSON.stringify(summary));
