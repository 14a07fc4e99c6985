/**
 * An owner process of the accounts domain, as a user's own repository would have one:
 * the same flags, config file and environment as `shardline consumer`, metrics, health,
 * graceful shutdown and exit codes. `node --import tsx workers/accounts-worker.ts --transport bullmq --store redis`.
 */
import { accounts } from 'shardline';
import { runConsumer } from 'shardline/process';

process.exit(await runConsumer({ domain: accounts, argv: process.argv.slice(2), env: process.env }));
