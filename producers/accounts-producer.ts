/**
 * A producer process of the accounts domain, as a user's own repository would have one:
 * opens `ACCOUNTS` accounts, then deposits 1 cent into a random one every `PAUSE_MS` until
 * SIGTERM/SIGINT (sends under way settle and are flushed); the same flags, config file
 * and environment as `shardline send`, metrics, health, bounded shutdown and exit codes. `node --import tsx producers/accounts-producer.ts --transport bullmq`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { accounts } from 'shardline';
import { runProducer } from 'shardline/process';

const ACCOUNTS = 100;
const PAUSE_MS = 10;

process.exit(
  await runProducer({
    domain: accounts,
    argv: process.argv.slice(2),
    env: process.env,
    async run({ producer, signal, logger }) {
      const keys = Array.from({ length: ACCOUNTS }, (_, i) => `acct-${i}`);
      await producer.sendMany(keys.map((key) => ({ type: 'open' as const, key, payload: { initialBalance: 0 } })));
      let sent = 0;
      while (!signal.aborted) {
        await producer.send('deposit', keys[Math.floor(Math.random() * keys.length)]!, { amount: 1 });
        sent++;
        await sleep(PAUSE_MS, undefined, { signal }).catch(() => undefined);
      }
      logger.info({ deposits: sent }, 'stopped sending');
    },
  }),
);
