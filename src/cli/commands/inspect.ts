import type { Config } from '../../config/schema.ts';
import type { ShardOwner } from '../../transports/transport.ts';
import { domainName } from '../../process/domain.ts';
import { createLogger } from '../../process/log.ts';
import { createStore, createTransport, RedisLink } from '../../process/services.ts';

/** One shard as `shardline inspect` shows it. */
export interface ShardReport {
  readonly shard: number;
  /** Who holds the shard now, when the transport can tell (`owners()`); `null` otherwise. */
  readonly owner: ShardOwner | null;
  /** The fencing epoch the store issued on the last claim (the owner's own is `owner.epoch`). */
  readonly epoch: number;
  readonly depth: number;
  readonly capacity: number;
  /** Position of the last applied command (-1 when none). */
  readonly lastPosition: number;
  /** Dead letters of this shard among the newest kept. */
  readonly deadLetters: number;
}

/** What `shardline inspect --json` prints. */
export interface InspectReport {
  readonly domain: string;
  readonly transport: string;
  readonly store: string;
  readonly shards: readonly ShardReport[];
  /** Every dead letter ever added for the domain. */
  readonly deadLettersTotal: number;
}

/** Newest dead letters read to count them per shard. */
const DEAD_LETTER_SCAN = 10_000;

/**
 * `shardline inspect`: reads, without consuming or claiming anything, each shard's owner,
 * epoch, depth, capacity, last applied position and dead letters, from the transport and
 * the store the configuration names. With the memory transport and store a separate
 * process sees only its own empty queues; inspect a shared (redis/bullmq/kafka) setup.
 */
export async function inspect(config: Config): Promise<InspectReport> {
  const domain = await domainName(config.domain);
  const logger = createLogger(config.log.level, 'inspect');
  const redis = new RedisLink(config.redis.url);
  const transport = await createTransport(config, domain, logger);
  try {
    const info = await transport.connect();
    const store = await createStore(config, domain, redis);
    const { deadLetters } = store;
    try {
      const shards = Array.from({ length: info.shardCount }, (_, shard) => shard);
      const [statuses, depths, owners, letters, total] = await Promise.all([
        Promise.all(shards.map((shard) => store.status(shard))),
        Promise.all(shards.map((shard) => transport.depth(shard))),
        transport.owners?.() ?? Promise.resolve([]),
        deadLetters.list(DEAD_LETTER_SCAN),
        deadLetters.count(),
      ]);
      const perShard = new Map<number, number>();
      for (const letter of letters) perShard.set(letter.shard, (perShard.get(letter.shard) ?? 0) + 1);
      return {
        domain,
        transport: transport.name,
        store: store.name,
        deadLettersTotal: total,
        shards: shards.map((shard) => ({
          shard,
          owner: owners[shard] ?? null,
          epoch: statuses[shard]!.epoch,
          depth: depths[shard]!,
          capacity: info.capacity,
          lastPosition: statuses[shard]!.position,
          deadLetters: perShard.get(shard) ?? 0,
        })),
      };
    } finally {
      await store.close();
    }
  } finally {
    await transport.close();
    await redis.close();
  }
}

/** The report as an aligned text table; the owner columns show `-` where the transport cannot tell. */
export function formatInspect(report: InspectReport): string {
  const header = ['shard', 'owner', 'host', 'pid', 'owner epoch', 'since', 'epoch', 'depth', 'capacity', 'last position', 'dead letters'];
  const left = new Set([1, 2, 5]);
  const rows = report.shards.map((s) => [
    String(s.shard),
    s.owner?.member ?? '-',
    s.owner?.host ?? '-',
    s.owner?.pid === undefined ? '-' : String(s.owner.pid),
    s.owner === null ? '-' : String(s.owner.epoch),
    s.owner?.since === undefined ? '-' : new Date(s.owner.since).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    ...[s.epoch, s.depth, s.capacity, s.lastPosition, s.deadLetters].map(String),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((cell, i) => (left.has(i) ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd();
  return [
    `domain ${report.domain}, transport ${report.transport}, store ${report.store}, dead letters ${report.deadLettersTotal}`,
    line(header),
    ...rows.map(line),
  ].join('\n');
}
