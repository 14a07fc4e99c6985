import type { Config } from '../config/schema.ts';
import type { AnyDomain } from '../core/domain.ts';
import type { ReplyBus } from '../common/replies.ts';
import { CONSUMER_FLAGS } from '../config/flags.ts';
import type { Dashboard } from '../dashboard/dashboard.ts';
import { Owner } from '../runtime/owner.ts';
import type { StateStore } from '../state/state-store.ts';
import type { HotKeyBoard } from '../state/hot-key-board.ts';
import { openProcess } from './kit.ts';
import { configOf, withExitCode, type ProcessOptions } from './options.ts';
import { createHotKeyBoard, createReplies, createStore, RedisLink } from './services.ts';
import { ShutdownGate } from './shutdown.ts';

/**
 * A consumer (owner) process of `options.domain` in your own program: the configuration
 * layered as the CLI layers it (defaults < `config` < file < `env` < `argv`), `/metrics`,
 * `/healthz` and `/readyz`, graceful shutdown on SIGTERM/SIGINT bounded by
 * `shutdown.timeoutMs` from the signal, and the CLI's exit codes. Resolves with the exit
 * code once it has stopped (a shutdown that overruns exits the process with 4). With
 * `--dashboard` (or `dashboard.enabled`) it serves the dashboard page too, redrive on when
 * `env` has `SHARDLINE_DASHBOARD_TOKEN`.
 *
 * ```ts
 * import { runConsumer } from 'shardline/process';
 * import inventory from './inventory.js';
 * process.exit(await runConsumer({ domain: inventory, argv: process.argv.slice(2), env: process.env }));
 * ```
 */
export function runConsumer<D extends AnyDomain>(options: ProcessOptions<D>): Promise<number> {
  return withExitCode(async () => consume(await configOf(options, 'consumer', CONSUMER_FLAGS), options.domain, options.env?.SHARDLINE_DASHBOARD_TOKEN));
}

/**
 * Runs an owner of `domain` on the configured transport and store until SIGTERM/SIGINT,
 * then finishes and commits the batch in hand, releases its shards and returns 0. Ready
 * (`/readyz`) once it has joined ownership, whether it owns shards or stands by; the body
 * says how many it owns. With `config.dashboard.enabled` it serves the dashboard page
 * (see `shardline dashboard`), its redrive guarded by `dashboardToken`.
 */
export async function consume(config: Config, domain: AnyDomain, dashboardToken?: string): Promise<number> {
  let owner: Owner<AnyDomain> | undefined;
  let dashboard: Dashboard | undefined;
  let joined = false;
  const kit = await openProcess(config, domain, 'consumer', (connected) => {
    const shardsOwned = owner?.owned().length ?? 0;
    if (!connected) return { ready: false, reason: 'connecting', shardsOwned };
    if (!joined) return { ready: false, reason: 'joining ownership', shardsOwned };
    const stopped = owner?.stopped() ?? [];
    if (stopped.length > 0) {
      return { ready: false, reason: `stopped ${stopped.length} shard(s) whose transport broke its contract: ${stopped.map((s) => s.error.message).join('; ')}`, shardsOwned };
    }
    return { ready: true, shardsOwned };
  });
  const gate = new ShutdownGate({ logger: kit.logger, timeoutMs: config.shutdown.timeoutMs });
  const redis = new RedisLink(config.redis.url);
  let store: StateStore | undefined;
  let replies: ReplyBus | undefined;
  let hotKeyBoard: HotKeyBoard | undefined;
  const closeAll = async (): Promise<void> => {
    try {
      await dashboard?.close();
      await owner?.close();
    } finally {
      await kit.close();
      await Promise.allSettled([store?.close(), replies?.close(), hotKeyBoard?.close()]);
      await redis.close();
    }
  };
  try {
    store = await createStore(config, domain.name, redis);
    replies = await createReplies(config, redis);
    hotKeyBoard = await createHotKeyBoard(config, domain.name, redis);
    const info = await kit.connect();
    owner = new Owner({
      ...config.owner,
      domain,
      transport: kit.transport,
      store,
      replies,
      observer: kit.observer,
      logger: kit.runtimeLogger,
      hotKeyBoard,
    });
    kit.instruments.watchOwnership(() => owner?.owned().length ?? 0, () => owner?.stopped().length ?? 0);
    const starting = owner.start().then(() => {
      joined = true;
    });
    // A start that fails after a signal won the race below is closed by the shutdown, not thrown.
    starting.catch(() => undefined);
    if (config.dashboard.enabled) {
      const { openDashboard } = await import('../dashboard/dashboard.ts');
      const { WindowedP99 } = await import('../dashboard/latency.ts');
      const { host, port, tickMs } = config.dashboard;
      dashboard = await openDashboard({
        domain: domain.name,
        transport: kit.transport,
        info,
        store,
        hotKeys: hotKeyBoard,
        host,
        port,
        tickMs,
        token: dashboardToken,
        enqueueTimeoutMs: config.producer.enqueueTimeoutMs,
        logger: kit.logger,
        latency: new WindowedP99(kit.instruments.endToEnd, Math.ceil(10_000 / tickMs)),
        ready: () => joined && (owner?.stopped().length ?? 0) === 0,
      });
    }
    await Promise.race([starting, gate.signalled]);
    if (!gate.stopping) kit.logger.info({ domain: domain.name, store: store.name }, 'consumer running');
    if (config.transport.kind === 'memory') kit.logger.warn({}, 'memory transport: only commands sent from this process reach this owner; use bullmq or kafka to share shards');
    await gate.signalled;
  } catch (error) {
    await gate.finish(closeAll).catch(() => undefined);
    throw error;
  }
  const code = await gate.finish(closeAll);
  kit.logger.info({ owned: owner.owned().length }, 'consumer stopped');
  return code;
}
