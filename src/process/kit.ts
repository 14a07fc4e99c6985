import type { Logger } from 'pino';
import { summarizeRepeats, type SummarizingLogger } from '../common/log-summary.ts';
import type { Config } from '../config/schema.ts';
import type { AnyDomain } from '../core/domain.ts';
import { ShardlineInstruments } from '../metrics/instruments.ts';
import { MetricsObserver } from '../metrics/metrics-observer.ts';
import { MetricsServer, type Readiness } from '../metrics/server.ts';
import type { Transport, TransportInfo } from '../transports/transport.ts';
import { createLogger } from './log.ts';
import { createTransport } from './services.ts';

/** What every long-running shardline process has: config, logs, a transport, metrics. */
export interface ProcessKit {
  readonly config: Config;
  readonly logger: Logger;
  /**
   * The logger handed to the transport, the owner, stores and reply buses: the same lines,
   * but a warning repeated through an outage is logged once per cause and interval, counted.
   */
  readonly runtimeLogger: SummarizingLogger;
  readonly domain: AnyDomain;
  readonly transport: Transport;
  readonly instruments: ShardlineInstruments;
  readonly observer: MetricsObserver;
  /** The metrics server, when `metrics.enabled`. */
  readonly server: MetricsServer | undefined;
  /** Connects the transport and points the depth and capacity gauges at it. */
  connect(): Promise<TransportInfo>;
  /** Closes the transport, then the metrics server (so the last scrape sees the end). Idempotent. */
  close(): Promise<void>;
}

/**
 * Builds the transport and the metrics of a process serving `domain` and starts serving
 * `/metrics`, `/healthz` and `/readyz` before anything connects, so an orchestrator sees
 * the process alive (and not yet ready) while it connects. `ready` is asked on every `/readyz`.
 */
export async function openProcess(config: Config, domain: AnyDomain, role: string, ready: (connected: boolean) => Readiness): Promise<ProcessKit> {
  const logger = createLogger(config.log.level, role);
  const runtimeLogger = summarizeRepeats(logger);
  const transport = await createTransport(config, domain.name, runtimeLogger);
  const instruments = new ShardlineInstruments({ domain: domain.name, transport: transport.name });
  const observer = new MetricsObserver(instruments);
  let connected = false;
  const server = config.metrics.enabled
    ? new MetricsServer({ registry: instruments.registry, host: config.metrics.host, port: config.metrics.port, readiness: () => ready(connected) })
    : undefined;
  if (server !== undefined) {
    const port = await server.listen();
    logger.info({ host: config.metrics.host, port }, 'serving /metrics, /healthz, /readyz');
  }
  let closing: Promise<void> | undefined;
  return {
    config,
    logger,
    runtimeLogger,
    domain,
    transport,
    instruments,
    observer,
    server,
    async connect() {
      const info = await transport.connect();
      instruments.watchQueues({ shardCount: info.shardCount, capacity: info.capacity, depth: (shard) => transport.depth(shard) });
      connected = true;
      logger.info({ transport: transport.name, shards: info.shardCount, capacity: info.capacity }, 'connected');
      return info;
    },
    close() {
      closing ??= (async () => {
        try {
          await transport.close();
        } finally {
          runtimeLogger.close();
          await server?.close();
        }
      })();
      return closing;
    },
  };
}
