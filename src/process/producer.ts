import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import type { AnyDomain } from '../core/domain.ts';
import { ConfigError } from '../core/errors.ts';
import type { ReplyBus } from '../common/replies.ts';
import { Producer } from '../runtime/producer.ts';
import { ExitCode } from './exit-codes.ts';
import { openProcess } from './kit.ts';
import { configOf, withExitCode, type ProcessOptions } from './options.ts';
import { createReplies, RedisLink } from './services.ts';
import { ShutdownGate } from './shutdown.ts';

/** What a producer process's work gets. */
export interface ProducerContext<D extends AnyDomain> {
  /** Connected, with the configured settings and reply bus; closed (flushed) after the work returns. */
  readonly producer: Producer<D>;
  readonly config: Config;
  readonly logger: Logger;
  /**
   * Aborted by the first SIGTERM/SIGINT: start no new sends and return; sends under way
   * settle and are flushed before the process exits.
   */
  readonly signal: AbortSignal;
}

/** The work of a producer process; resolves with its exit code (0 when it returns nothing). */
export type ProducerWork<D extends AnyDomain> = (context: ProducerContext<D>) => Promise<number | void>;

/** What `runProducer` is told: the process options and the work. */
export interface RunProducerOptions<D extends AnyDomain> extends ProcessOptions<D> {
  readonly run: ProducerWork<D>;
}

/**
 * A producer process of `options.domain` in your own program: the configuration layered
 * as the CLI layers it, `/metrics`, `/healthz` and `/readyz`, a connected `Producer`
 * handed to `run`, graceful shutdown on SIGTERM/SIGINT (the signal aborts `signal`; the
 * shutdown, flush included, is bounded by `shutdown.timeoutMs` from the signal) and the
 * CLI's exit codes. Resolves with the exit code: `run`'s, unless the shutdown failed.
 *
 * ```ts
 * import { runProducer } from 'shardline/process';
 * process.exit(await runProducer({
 *   domain: inventory, argv: process.argv.slice(2), env: process.env,
 *   run: async ({ producer }) => { await producer.send('restock', 'sku-1', { units: 5 }); },
 * }));
 * ```
 */
export function runProducer<D extends AnyDomain>(options: RunProducerOptions<D>): Promise<number> {
  return withExitCode(async () => produce(await configOf(options, 'producer'), options.domain, 'producer', options.run));
}

/**
 * Runs `work` with a connected producer of `domain` on the configured transport, then
 * flushes and closes everything. A transport whose queues live in one process (memory)
 * is refused: nothing sent would reach an owner.
 */
export async function produce<D extends AnyDomain>(config: Config, domain: D, role: string, work: ProducerWork<D>): Promise<number> {
  if (config.transport.kind === 'memory') {
    throw new ConfigError([
      'transport: expected a transport shared between processes (bullmq, kafka or a module), got memory, whose queues live in one process and would never reach an owner; run `shardline demo` for producers and owners in one process',
    ]);
  }
  const kit = await openProcess(config, domain, role, (connected) => (connected ? { ready: true } : { ready: false, reason: 'connecting' }));
  const gate = new ShutdownGate({ logger: kit.logger, timeoutMs: config.shutdown.timeoutMs });
  const stop = new AbortController();
  void gate.signalled.then(() => stop.abort());
  const redis = new RedisLink(config.redis.url);
  let replies: ReplyBus | undefined;
  let producer: Producer<D> | undefined;
  const closeAll = async (): Promise<void> => {
    try {
      await producer?.close();
    } finally {
      await kit.close();
      await replies?.close();
      await redis.close();
    }
  };
  let code: number;
  try {
    replies = await createReplies(config, redis);
    producer = new Producer<D>({ ...config.producer, domain, transport: kit.transport, replies, observer: kit.observer });
    await kit.connect();
    await producer.connect();
    code = (await work({ producer, config, logger: kit.logger, signal: stop.signal })) ?? ExitCode.ok;
  } catch (error) {
    await gate.finish(closeAll).catch(() => undefined);
    throw error;
  }
  const closed = await gate.finish(closeAll);
  return closed === ExitCode.ok ? code : closed;
}
