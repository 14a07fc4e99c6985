import type { Logger } from '../common/logger.ts';
import type { HotKeyBoard } from '../state/hot-key-board.ts';
import type { StateStore } from '../state/state-store.ts';
import type { Transport, TransportInfo } from '../transports/transport.ts';
import { RedriveGuard } from './guard.ts';
import type { WindowedP99 } from './latency.ts';
import { DashboardMonitor } from './monitor.ts';
import { discardDeadLetters, requeueDeadLetters } from './redrive.ts';
import { DashboardServer } from './server.ts';

/** Everything a dashboard reads and where it listens. */
export interface DashboardOptions {
  readonly domain: string;
  /** Connected; the dashboard neither connects nor closes it. */
  readonly transport: Transport;
  readonly info: TransportInfo;
  /** The dashboard neither opens nor closes it. */
  readonly store: StateStore;
  /** Where owners publish hot keys (the dashboard neither opens nor closes it); none shown without it. */
  readonly hotKeys?: HotKeyBoard;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** `SHARDLINE_DASHBOARD_TOKEN`: redrive and discard are off without it. */
  readonly token: string | undefined;
  /** How long a requeue waits for room in a full queue. */
  readonly enqueueTimeoutMs: number;
  readonly logger: Logger;
  /** A consumer's end-to-end p99, shown for the shards it owns. */
  readonly latency?: WindowedP99;
  /** A consumer's readiness, shown on its process row. */
  readonly ready?: () => boolean;
  /** How often the page is updated. @defaultValue 1000 */
  readonly tickMs?: number;
}

/** A running dashboard. */
export interface Dashboard {
  /** The port it listens on. */
  readonly port: number;
  /** Stops serving and reading; idempotent. */
  close(): Promise<void>;
}

/**
 * Starts the dashboard page on `host:port`: reads the transport and the store every tick
 * and streams what it read to every open page (see {@link DashboardServer}).
 */
export async function openDashboard(options: DashboardOptions): Promise<Dashboard> {
  const { transport, info, store } = options;
  const guard = new RedriveGuard(options.token);
  const monitor = new DashboardMonitor({
    domain: options.domain,
    transport,
    info,
    store,
    redrive: guard.enabled,
    ...(options.tickMs === undefined ? {} : { tickMs: options.tickMs }),
    ...(options.latency === undefined ? {} : { latency: options.latency }),
    ...(options.ready === undefined ? {} : { ready: options.ready }),
    ...(options.hotKeys === undefined ? {} : { hotKeys: options.hotKeys }),
  });
  const target = { transport, info, enqueueTimeoutMs: options.enqueueTimeoutMs };
  const server = new DashboardServer({
    monitor,
    guard,
    host: options.host,
    port: options.port,
    actions: {
      requeue: (selection, by) => requeueDeadLetters(store.deadLetters, target, selection, by),
      discard: (selection, by) => discardDeadLetters(store.deadLetters, selection, by),
    },
  });
  await monitor.start();
  let port: number;
  try {
    port = await server.listen();
  } catch (error) {
    await monitor.close();
    throw error;
  }
  options.logger.info({ host: options.host, port, redrive: guard.enabled }, 'serving the dashboard');
  let closing: Promise<void> | undefined;
  return {
    port,
    close() {
      closing ??= Promise.all([server.close(), monitor.close()]).then(() => undefined);
      return closing;
    },
  };
}
