/**
 * An owner process of `shardline bench --failover` (started by `failover.ts`): owns the
 * counter domain's shards on the given transport with the shared Redis store, and tells
 * the parent what it gained and lost, the first batch it applied on each shard after a
 * gain (with the time, ms since the epoch), and its applied and duplicate counts. The
 * parent SIGKILLs one of two such processes; the other one stops on `stop`.
 */
import { openRedis } from '../common/redis.ts';
import { Owner } from '../runtime/owner.ts';
import { RedisStateStore } from '../state/redis-store.ts';
import { buildTransport, exitWithParent, failChild, parentMessage, type TransportSpec } from './bench-child.ts';
import { counters } from './counter-domain.ts';

/** How often the applied and duplicate counts are sent. */
const COUNTS_MS = 200;

exitWithParent();
try {
  const { transport: spec, redisUrl, prefix } = await parentMessage<{ transport: TransportSpec; redisUrl: string; prefix: string }>('start');
  const transport = buildTransport(spec);
  const client = await openRedis(redisUrl, 'bench-failover-owner');
  const fresh = new Set<number>();
  let applied = 0;
  let duplicates = 0;
  const owner = new Owner({
    domain: counters,
    transport,
    store: new RedisStateStore({ client, prefix, domain: counters.name }),
    observer: {
      ownership(shard, _epoch, event) {
        if (event === 'gained') fresh.add(shard);
        else fresh.delete(shard);
        process.send!({ type: 'ownership', shard, event });
      },
      batch(shard) {
        if (fresh.delete(shard)) process.send!({ type: 'applying', shard, at: Date.now() });
      },
      applied(_type, outcome, count) {
        if (outcome === 'ok') applied += count;
        else if (outcome === 'duplicate') duplicates += count;
      },
    },
  });
  await owner.start();
  const counts = setInterval(() => process.send!({ type: 'counts', applied, duplicates }), COUNTS_MS);
  process.send!({ type: 'ready' });
  await parentMessage('stop');
  clearInterval(counts);
  await owner.close();
  await transport.close();
  client.disconnect();
  process.send!({ type: 'stopped', applied, duplicates }, () => process.exit(0));
} catch (error) {
  failChild(error);
}
