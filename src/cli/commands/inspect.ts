import type { Config } from '../../config/schema.ts';
import type { ShardOwner } from '../../transports/transport.ts';
import { domainName } from '../../process/domain.ts';
import { createLogger } from '../../process/log.ts';
import { createHotKeyBoard, createStore, createTransport, RedisLink } from '../../process/services.ts';
import { liveHotKeys, readHotKeys, type HotKeySnapshot } from '../../state/hot-key-board.ts';

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
  /**
   * The shard's hottest recent keys as its owner last published them; `null` when none is
   * live (no recent commands, a board this process cannot read, or one published by an
   * owner fenced since).
   */
  readonly hotKeys: HotKeySnapshot | null;
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
 * the store the configuration names, and the hot keys its owner last published. With the memory transport and store a separate
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
    const board = await createHotKeyBoard(config, domain, redis);
    const { deadLetters } = store;
    try {
      const shards = Array.from({ length: info.shardCount }, (_, shard) => shard);
      const [statuses, depths, owners, letters, total, hotKeys] = await Promise.all([
        Promise.all(shards.map((shard) => store.status(shard))),
        Promise.all(shards.map((shard) => transport.depth(shard))),
        transport.owners?.() ?? Promise.resolve([]),
        deadLetters.list(DEAD_LETTER_SCAN),
        deadLetters.count(),
        readHotKeys(board, info.shardCount),
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
          hotKeys: liveHotKeys(hotKeys[shard], statuses[shard]!.epoch),
        })),
      };
    } finally {
      await Promise.all([store.close(), board.close()]);
    }
  } finally {
    await transport.close();
    await redis.close();
  }
}

/** Hot keys per shard shown in the text table (`--json` has every published one). */
const HOT_KEYS_SHOWN = 5;
/** Longest key shown in the text table, in characters. */
const HOT_KEY_WIDTH = 32;

/**
 * The report as an aligned text table, then each shard's hottest keys; the owner columns
 * show `-` where the transport cannot tell.
 */
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
    ...formatHotKeys(report.shards),
  ].join('\n');
}

/** `hot keys` lines: per shard its top keys with their share of its recent commands, who counted and how long ago. */
function formatHotKeys(shards: readonly ShardReport[]): string[] {
  const published = shards.filter((s) => s.hotKeys !== null && s.hotKeys.keys.length > 0);
  if (published.length === 0) return ['hot keys: none published (no recent commands, or owners publish where this process cannot read: see docs/operations.md)'];
  const now = Date.now();
  const halfLife = published[0]!.hotKeys!.halfLifeMs / 1000;
  return [
    `hot keys: share of each shard's recent commands (half-life ${halfLife} s)`,
    ...published.map(({ shard, hotKeys }) => {
      const keys = hotKeys!.keys.slice(0, HOT_KEYS_SHOWN).map((k) => `${showKey(k.key)} ${(k.share * 100).toFixed(1)}%`);
      const age = Math.max(0, Math.round((now - hotKeys!.at) / 1000));
      return `shard ${shard}  ${keys.join('  ')}  (${hotKeys!.host}:${hotKeys!.pid}, ${age} s ago)`;
    }),
  ];
}

/** A key as the table shows it: printable ASCII as is, anything else quoted; long ones cut. */
function showKey(key: string): string {
  const cut = key.length > HOT_KEY_WIDTH ? `${key.slice(0, HOT_KEY_WIDTH - 1)}…` : key;
  return /^[\x21-\x7e]+$/.test(key) ? cut : JSON.stringify(cut);
}
