import type { Config } from '../../config/schema.ts';
import type { Dashboard } from '../../dashboard/dashboard.ts';
import { openDashboard } from '../../dashboard/dashboard.ts';
import { domainName } from '../../process/domain.ts';
import { createLogger } from '../../process/log.ts';
import { createHotKeyBoard, createStore, createTransport, RedisLink } from '../../process/services.ts';
import { ShutdownGate } from '../../process/shutdown.ts';
import type { HotKeyBoard } from '../../state/hot-key-board.ts';
import type { StateStore } from '../../state/state-store.ts';

/**
 * `shardline dashboard`: serves the dashboard page of the configured domain until
 * SIGTERM/SIGINT, reading what `shardline inspect` reads, without consuming or claiming
 * anything. Redrive and discard are on when `token` (SHARDLINE_DASHBOARD_TOKEN) is set.
 * End-to-end latency is measured by consumers: mount the page in one (`consumer
 * --dashboard`) to see it.
 */
export async function dashboardCommand(config: Config, token: string | undefined): Promise<number> {
  const domain = await domainName(config.domain);
  const logger = createLogger(config.log.level, 'dashboard');
  const gate = new ShutdownGate({ logger, timeoutMs: config.shutdown.timeoutMs });
  const redis = new RedisLink(config.redis.url);
  const transport = await createTransport(config, domain, logger);
  let store: StateStore | undefined;
  let hotKeys: HotKeyBoard | undefined;
  let dashboard: Dashboard | undefined;
  const closeAll = async (): Promise<void> => {
    try {
      await dashboard?.close();
    } finally {
      await transport.close();
      await store?.close();
      await hotKeys?.close();
      await redis.close();
    }
  };
  try {
    const info = await transport.connect();
    store = await createStore(config, domain, redis);
    hotKeys = await createHotKeyBoard(config, domain, redis);
    const { host, port, tickMs } = config.dashboard;
    const enqueueTimeoutMs = config.producer.enqueueTimeoutMs;
    dashboard = await openDashboard({ domain, transport, info, store, hotKeys, host, port, tickMs, token, enqueueTimeoutMs, logger });
    await gate.signalled;
  } catch (error) {
    await gate.finish(closeAll).catch(() => undefined);
    throw error;
  }
  return gate.finish(closeAll);
}
