/**
 * The accounts load generator: `shardline producer --domain accounts`, taking the same
 * flags, config file and environment (`--count`, `--rate`, `--concurrency`, `--mix`, ...).
 * Run it with `node --import tsx producers/accounts-producer.ts`.
 */
import { runCli } from '../src/cli/program.ts';

process.exit(await runCli(['producer', '--domain', 'accounts', ...process.argv.slice(2)]));
