import type { Config } from '../../config/schema.ts';
import type { AnyDomain } from '../../core/domain.ts';
import { Owner } from '../../runtime/owner.ts';
import { openProcess } from '../process-kit.ts';
import type { ReplyBus } from '../../common/replies.ts';
import type { StateStore } from '../../state/state-store.ts';
import { createReplies, createStore, RedisLink } from '../services.ts';
import { ShutdownGate } from '../shutdown.ts';

/**
 * `shardline consumer`: runs an owner of the configured domain on the configured
 * transport and store until SIGTERM/SIGINT, then finishes and commits the batch in hand,
 * releases its shards and exits 0. Ready (`/readyz`) once connected and owning a shard.
 */
export async function runConsumer(config: Config): Promise<number> {
  let owner: Owner<AnyDomain> | undefined;
  const kit = await openProcess(config, 'consumer', (connected) => {
    if (!connected) return { ready: false, reason: 'connecting' };
    const owned = owner?.owned().length ?? 0;
    return owned > 0 ? { ready: true } : { ready: false, reason: 'owns no shard yet' };
  });
  const gate = new ShutdownGate({ logger: kit.logger });
  const redis = new RedisLink(config.redis.url);
  const closeAll = async (): Promise<void> => {
    try {
      await owner?.close();
    } finally {
      await kit.close();
      await Promise.allSettled([store?.close(), replies?.close()]);
      await redis.close();
    }
  };
  let store: StateStore | undefined;
  let replies: ReplyBus | undefined;
  try {
    store = await createStore(config, redis);
    replies = await createReplies(config, redis);
    await kit.connect();
    owner = new Owner({
      ...config.owner,
      domain: kit.domain,
      transport: kit.transport,
      store,
      replies,
      observer: kit.observer,
      logger: kit.logger,
    });
    kit.instruments.watchOwnership(() => owner?.owned().length ?? 0);
    await Promise.race([owner.start(), gate.signalled]);
    if (!gate.stopping) kit.logger.info({ store: store.name }, 'consumer running');
    if (config.transport.kind === 'memory') kit.logger.warn({}, 'memory transport: only commands sent from this process reach this owner; use bullmq or kafka to share shards');
    await gate.signalled;
  } catch (error) {
    gate.close();
    await closeAll().catch(() => undefined);
    throw error;
  }
  const code = await gate.finish(closeAll, config.shutdown.timeoutMs);
  kit.logger.info({ owned: owner.owned().length }, 'consumer stopped');
  return code;
}
