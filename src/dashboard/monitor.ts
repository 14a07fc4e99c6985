import { hostname } from 'node:os';
import { describeError } from '../core/errors.ts';
import { deadLetterId, type DeadLetter } from '../state/dead-letters.ts';
import { liveHotKeys, readHotKeys, type HotKey, type HotKeyBoard, type HotKeySnapshot } from '../state/hot-key-board.ts';
import type { StateStore } from '../state/state-store.ts';
import type { ShardOwner, Transport, TransportInfo } from '../transports/transport.ts';
import type { WindowedP99 } from './latency.ts';
import type { DashboardSnapshot, LetterView, OwnershipChange, ProcessView, ShardView } from './snapshot.ts';

/** What a {@link DashboardMonitor} reads, and how often. */
export interface MonitorOptions {
  readonly domain: string;
  /** Connected. */
  readonly transport: Transport;
  readonly info: TransportInfo;
  readonly store: StateStore;
  /** Where owners publish their hot keys; the page shows none without it. */
  readonly hotKeys?: HotKeyBoard;
  /** How often the monitor reads everything. @defaultValue 1000 */
  readonly tickMs?: number;
  /** Ticks of history kept for the charts. @defaultValue 300 (5 minutes at 1 s) */
  readonly historyTicks?: number;
  /** Ownership changes kept. @defaultValue 50 */
  readonly changesKept?: number;
  /** Dead letters sent to the page. @defaultValue 200 */
  readonly lettersShown?: number;
  /** The end-to-end p99 of this process, when it is a consumer that measures it. */
  readonly latency?: WindowedP99;
  /** Whether this process is ready, when it is a consumer. */
  readonly ready?: () => boolean;
  /** Whether redrive is on (the page shows its buttons). */
  readonly redrive: boolean;
}

/** Hot keys per shard sent to the page. */
const HOT_KEYS_SHOWN = 3;
const NO_KEYS: readonly HotKey[] = [];

/** Newest dead letters read to count them per shard. */
const DEAD_LETTER_SCAN = 10_000;

/**
 * Reads what `shardline inspect` reads (owners, depths, store positions, dead letters) once
 * per tick, keeps the minutes of history the charts plot and the ownership changes seen
 * between ticks, and hands each snapshot to its listeners. Reads only: it never claims,
 * consumes or moves anything. One timer, created by `start()`, cleared by `close()`.
 */
export class DashboardMonitor {
  readonly #options: MonitorOptions;
  readonly #tickMs: number;
  readonly #historyTicks: number;
  readonly #listeners = new Set<(snapshot: DashboardSnapshot) => void>();
  readonly #at: number[] = [];
  readonly #depth: number[][];
  readonly #applied: number[] = [];
  readonly #changes: OwnershipChange[] = [];
  #owners: readonly (ShardOwner | undefined)[] | undefined;
  #positions: { at: number; positions: number[] } | undefined;
  #latest: DashboardSnapshot | undefined;
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #closed = false;

  constructor(options: MonitorOptions) {
    this.#options = options;
    this.#tickMs = options.tickMs ?? 1000;
    this.#historyTicks = options.historyTicks ?? 300;
    this.#depth = Array.from({ length: options.info.shardCount }, () => []);
  }

  /** Reads once at once, then every tick. */
  async start(): Promise<void> {
    await this.tick();
    if (this.#closed) return;
    this.#timer = setInterval(() => void this.tick(), this.#tickMs);
    this.#timer.unref();
  }

  /** The last snapshot, if a tick finished. */
  get latest(): DashboardSnapshot | undefined {
    return this.#latest;
  }

  /** Calls `listener` with every snapshot from now on; returns the unsubscribe. */
  subscribe(listener: (snapshot: DashboardSnapshot) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Reads everything now (a tick still running is awaited instead of overlapped). */
  tick(): Promise<void> {
    this.#ticking ??= this.#read().finally(() => {
      this.#ticking = undefined;
    });
    return this.#ticking;
  }

  /** Stops the timer and waits for a tick in hand. Idempotent; the transport and store stay open. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#listeners.clear();
    await this.#ticking;
  }

  async #read(): Promise<void> {
    const { transport, store, info } = this.#options;
    const shards = Array.from({ length: info.shardCount }, (_, shard) => shard);
    const at = Date.now();
    let snapshot: DashboardSnapshot;
    try {
      const [statuses, depths, owners, letters, total, p99, hotKeys] = await Promise.all([
        Promise.all(shards.map((shard) => store.status(shard))),
        Promise.all(shards.map((shard) => transport.depth(shard))),
        transport.owners?.() ?? Promise.resolve([]),
        store.deadLetters.list(DEAD_LETTER_SCAN),
        store.deadLetters.count(),
        this.#options.latency?.sample() ?? Promise.resolve(null),
        this.#options.hotKeys === undefined ? Promise.resolve([]) : readHotKeys(this.#options.hotKeys, info.shardCount),
      ]);
      const rates = this.#rates(at, statuses.map((status) => status.position));
      this.#noteOwners(at, owners);
      this.#record(at, depths, rates);
      snapshot = this.#snapshot(at, null, {
        shards: shards.map((shard) =>
          this.#shardView(shard, owners[shard], statuses[shard]!, depths[shard]!, rates?.[shard] ?? null, p99, letters, hotKeys[shard]),
        ),
        processes: this.#processes(owners),
        deadLetters: { total, letters: lettersShown(letters, this.#options.lettersShown ?? 200) },
      });
    } catch (error) {
      if (this.#latest === undefined) throw error;
      snapshot = { ...this.#latest, at, error: describeError(error) };
    }
    this.#latest = snapshot;
    for (const listener of this.#listeners) listener(snapshot);
  }

  #shardView(
    shard: number,
    owner: ShardOwner | undefined,
    status: { epoch: number; position: number },
    depth: number,
    rate: number | null,
    p99: number | null,
    letters: readonly { shard: number }[],
    hotKeys: HotKeySnapshot | undefined,
  ): ShardView {
    return {
      shard,
      owner: owner ?? null,
      epoch: status.epoch,
      depth,
      capacity: this.#options.info.capacity,
      appliedPerSec: rate,
      p99Ms: owner !== undefined && isThisProcess(owner) ? p99 : null,
      lastPosition: status.position,
      deadLetters: letters.filter((letter) => letter.shard === shard).length,
      hotKeys: (liveHotKeys(hotKeys, status.epoch)?.keys ?? NO_KEYS).slice(0, HOT_KEYS_SHOWN),
    };
  }

  /** Per shard, applied commands per second since the last tick; `null` on the first. */
  #rates(at: number, positions: number[]): number[] | null {
    const before = this.#positions;
    this.#positions = { at, positions };
    if (before === undefined || at <= before.at) return null;
    const seconds = (at - before.at) / 1000;
    return positions.map((position, shard) => Math.max(0, position - before.positions[shard]!) / seconds);
  }

  #noteOwners(at: number, owners: readonly (ShardOwner | undefined)[]): void {
    const before = this.#owners;
    this.#owners = owners;
    if (before === undefined) return;
    for (let shard = 0; shard < this.#options.info.shardCount; shard++) {
      const from = before[shard]?.member ?? null;
      const to = owners[shard]?.member ?? null;
      if (from !== to) this.#changes.unshift({ at, shard, from, to });
    }
    this.#changes.splice(this.#options.changesKept ?? 50);
  }

  #record(at: number, depths: readonly number[], rates: readonly number[] | null): void {
    this.#at.push(at);
    depths.forEach((depth, shard) => this.#depth[shard]!.push(depth));
    this.#applied.push(rates === null ? 0 : rates.reduce((sum, rate) => sum + rate, 0));
    if (this.#at.length > this.#historyTicks) {
      this.#at.shift();
      this.#applied.shift();
      for (const series of this.#depth) series.shift();
    }
  }

  #processes(owners: readonly (ShardOwner | undefined)[]): ProcessView[] {
    const byMember = new Map<string, { owner: ShardOwner; shards: number[] }>();
    owners.forEach((owner, shard) => {
      if (owner === undefined) return;
      const entry = byMember.get(owner.member) ?? { owner, shards: [] };
      entry.shards.push(shard);
      byMember.set(owner.member, entry);
    });
    return [...byMember.values()].map(({ owner, shards }) => ({
      member: owner.member,
      ...(owner.host === undefined ? {} : { host: owner.host }),
      ...(owner.pid === undefined ? {} : { pid: owner.pid }),
      shards,
      ready: isThisProcess(owner) && this.#options.ready !== undefined ? this.#options.ready() : null,
    }));
  }

  #snapshot(at: number, error: string | null, parts: Pick<DashboardSnapshot, 'shards' | 'processes' | 'deadLetters'>): DashboardSnapshot {
    const { domain, transport, store, redrive } = this.#options;
    return {
      at,
      domain,
      transport: transport.name,
      store: store.name,
      ...parts,
      changes: [...this.#changes],
      history: { at: [...this.#at], depth: this.#depth.map((series) => [...series]), applied: [...this.#applied] },
      redrive,
      error,
    };
  }
}

/** Whether the owner the transport reports is the process serving the page. */
function isThisProcess(owner: ShardOwner): boolean {
  return owner.pid === process.pid && owner.host === hostname();
}

/** The newest `limit` letters, newest first, with their ids. */
function lettersShown(letters: readonly DeadLetter[], limit: number): LetterView[] {
  return letters
    .slice(-limit)
    .reverse()
    .map((letter) => ({ ...letter, letterId: deadLetterId(letter), redrive: letter.redrive ?? null }));
}
