import type { Config } from '../../config/schema.ts';
import { ConfigError } from '../../core/errors.ts';
import { ShardlineInstruments } from '../../metrics/instruments.ts';
import { MetricsObserver } from '../../metrics/metrics-observer.ts';
import { MetricsServer } from '../../metrics/server.ts';
import { formatDemoSummary, runDemo, type DemoOptions } from '../demo.ts';
import { ExitCode } from '../../process/exit-codes.ts';
import { createLogger } from '../../process/log.ts';

/**
 * `shardline demo`: the accounts demo (producers and owners in this process, memory
 * transport) with its metrics served like any other process's, so Prometheus can watch a
 * `--duration-ms` run. Prints the summary (or `--json`: one object on the last stdout
 * line); exit 1 when money was not conserved or a balance went below zero.
 */
export async function runDemoCommand(config: Config, options: DemoOptions, json: boolean): Promise<number> {
  if (config.domain !== 'accounts') {
    throw new ConfigError([`domain: expected accounts (the demo sends accounts transfers), got ${JSON.stringify(config.domain)}`]);
  }
  if (config.transport.kind !== 'memory') {
    throw new ConfigError([`transport: expected the memory transport (the demo runs producers and owners in one process), got ${config.transport.kind ?? config.transport.module}`]);
  }
  const logger = createLogger(config.log.level, 'demo');
  const instruments = new ShardlineInstruments({ domain: 'accounts', transport: 'memory' });
  const observer = new MetricsObserver(instruments);
  let running = false;
  const server = config.metrics.enabled
    ? new MetricsServer({
        registry: instruments.registry,
        host: config.metrics.host,
        port: config.metrics.port,
        readiness: () => (running ? { ready: true } : { ready: false, reason: 'starting' }),
      })
    : undefined;
  try {
    if (server !== undefined) logger.info({ host: config.metrics.host, port: await server.listen() }, 'serving /metrics, /healthz, /readyz');
    const summary = await runDemo(options, {
      observer,
      progress: !json && process.stdout.isTTY === true,
      onReady: async ({ transport, owner }) => {
        const info = await transport.connect();
        instruments.watchQueues({ shardCount: info.shardCount, capacity: info.capacity, depth: (shard) => transport.depth(shard) });
        instruments.watchOwnership(() => owner.owned().length);
        running = true;
        logger.info({ shards: info.shardCount, capacity: info.capacity }, 'demo running');
      },
    });
    running = false;
    process.stdout.write(json ? `${JSON.stringify(summary)}\n` : `${formatDemoSummary(summary).join('\n')}\n`);
    return summary.moneyBefore === summary.moneyAfter && summary.negativeBalances === 0 ? ExitCode.ok : ExitCode.failure;
  } finally {
    await server?.close();
  }
}
