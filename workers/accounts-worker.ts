/**
 * The accounts owner process: `shardline consumer --domain accounts`, taking the same
 * flags, config file and environment. Run it with `node --import tsx workers/accounts-worker.ts`
 * (add `--transport bullmq --store redis` to share shards with other workers).
 */
import { runCli } from '../src/cli/program.ts';

process.exit(await runCli(['consumer', '--domain', 'accounts', ...process.argv.slice(2)]));
