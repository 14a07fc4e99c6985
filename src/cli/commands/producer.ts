import type { Config } from '../../config/schema.ts';
import { ConfigError } from '../../core/errors.ts';
import { accounts } from '../../domains/accounts.ts';
import { loadDomain } from '../../process/domain.ts';
import { ExitCode } from '../../process/exit-codes.ts';
import { produce } from '../../process/producer.ts';
import { LoadGenerator } from '../load/load-generator.ts';
import { createProgress } from '../progress.ts';

/** Error codes that are backpressure doing its job rather than a failure of the run. */
const EXPECTED_REFUSALS = new Set(['QUEUE_FULL', 'TIMEOUT', 'CLOSED']);

/**
 * `shardline producer`: optionally opens the accounts, then sends the configured load
 * (random transfers or 1-cent deposits) and prints a JSON summary as the last stdout line.
 * SIGTERM/SIGINT stop new sends; commands already sent settle and are flushed first, so
 * every command counted as accepted is in a queue. Exits 1 when sends failed for reasons
 * other than backpressure. The load is the accounts domain's; `shardline send` sends any
 * domain's commands.
 */
export async function producerCommand(config: Config): Promise<number> {
  const domain = await loadDomain(config.domain);
  if (domain !== accounts) {
    throw new ConfigError([`domain: expected accounts (the producer sends random accounts transfers or deposits), got ${JSON.stringify(domain.name)}; use \`shardline send\` to send commands of any domain`]);
  }
  return produce(config, accounts, 'producer', async ({ producer, logger, signal }) => {
    const load = new LoadGenerator(producer, config.load);
    signal.addEventListener('abort', () => load.stop(), { once: true });
    if (config.load.openAccounts && !signal.aborted) {
      const opened = await load.openAccounts();
      logger.info({ opened }, 'accounts opened');
    }
    logger.info({ load: config.load }, 'sending');
    const progress = createProgress(config.load.count, 'sending');
    const summary = await load.run((sent) => progress.update(sent)).finally(() => progress.stop());
    logger.info({ ...summary }, 'producer finished');
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    const failed = Object.keys(summary.refused).filter((reason) => !EXPECTED_REFUSALS.has(reason));
    return failed.length > 0 ? ExitCode.failure : ExitCode.ok;
  });
}
