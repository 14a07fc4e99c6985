import type { Config } from '../../config/schema.ts';
import { ConfigError } from '../../core/errors.ts';
import type { Accounts } from '../../domains/accounts.ts';
import { Producer } from '../../runtime/producer.ts';
import { ExitCode } from '../exit-codes.ts';
import { LoadGenerator, type LoadSummary } from '../load/load-generator.ts';
import { openProcess } from '../process-kit.ts';
import { createProgress } from '../progress.ts';
import { createReplies, RedisLink } from '../services.ts';
import { ShutdownGate } from '../shutdown.ts';

/** Error codes that are backpressure doing its job rather than a failure of the run. */
const EXPECTED_REFUSALS = new Set(['QUEUE_FULL', 'TIMEOUT', 'CLOSED']);

/**
 * `shardline producer`: optionally opens the accounts, then sends the configured load
 * (random transfers or 1-cent deposits) and prints a JSON summary as the last stdout line.
 * SIGTERM/SIGINT stop new sends; commands already sent settle and are flushed first, so
 * every command counted as accepted is in a queue. Exits 1 when sends failed for reasons
 * other than backpressure.
 */
export async function runProducer(config: Config): Promise<number> {
  if (config.transport.kind === 'memory') {
    throw new ConfigError([
      'transport: expected a transport shared between processes (bullmq, kafka or a module), got memory, whose queues live in one process and would never reach an owner; run `shardline demo` for producers and owners in one process',
    ]);
  }
  const kit = await openProcess(config, 'producer', (connected) => (connected ? { ready: true } : { ready: false, reason: 'connecting' }));
  const gate = new ShutdownGate({ logger: kit.logger });
  const redis = new RedisLink(config.redis.url);
  const replies = await createReplies(config, redis).catch(async (error: unknown) => {
    gate.close();
    await kit.close();
    await redis.close();
    throw error;
  });
  const producer = new Producer<Accounts>({
    ...config.producer,
    domain: kit.domain as Accounts,
    transport: kit.transport,
    replies,
    observer: kit.observer,
  });
  const load = new LoadGenerator(producer, config.load);
  const closeAll = async (): Promise<void> => {
    try {
      await producer.close();
    } finally {
      await kit.close();
      await replies.close();
      await redis.close();
    }
  };
  let summary: LoadSummary;
  const progress = createProgress(config.load.count, 'sending');
  try {
    await kit.connect();
    await producer.connect();
    void gate.signalled.then(() => load.stop());
    if (config.load.openAccounts && !gate.stopping) {
      const opened = await load.openAccounts();
      kit.logger.info({ opened }, 'accounts opened');
    }
    kit.logger.info({ load: config.load }, 'sending');
    summary = await load.run((sent) => progress.update(sent));
  } catch (error) {
    progress.stop();
    gate.close();
    await closeAll().catch(() => undefined);
    throw error;
  }
  progress.stop();
  const code = await gate.finish(closeAll, config.shutdown.timeoutMs);
  kit.logger.info({ ...summary }, 'producer finished');
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  const failed = Object.entries(summary.refused).filter(([reason]) => !EXPECTED_REFUSALS.has(reason));
  return code === ExitCode.ok && failed.length > 0 ? ExitCode.failure : code;
}
