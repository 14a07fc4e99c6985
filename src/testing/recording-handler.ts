import type { Delivery, ShardGrant, ShardHandler } from '../transports/transport.ts';

/** What one consumer saw of one shard. */
export interface ShardLog {
  readonly grants: ShardGrant[];
  readonly revoked: ShardGrant[];
  /** Every delivery, in the order received (redeliveries included). */
  readonly deliveries: Delivery[];
  /** Deliveries of calls that resolved (acknowledged), in order. */
  readonly acknowledged: Delivery[];
}

/** Counts deliveries in flight per shard across all handlers of a test, to catch two owners at once. */
export class OverlapDetector {
  readonly #inFlight = new Map<number, number>();
  readonly overlaps: string[] = [];

  enter(shard: number, who: string): void {
    const now = (this.#inFlight.get(shard) ?? 0) + 1;
    this.#inFlight.set(shard, now);
    if (now > 1) this.overlaps.push(`shard ${shard}: ${who} received a delivery while another owner was processing one`);
  }

  leave(shard: number): void {
    this.#inFlight.set(shard, (this.#inFlight.get(shard) ?? 1) - 1);
  }
}

/**
 * A ShardHandler that records everything and acknowledges by default. Tests steer it:
 * `hang` keeps deliveries unacknowledged forever (an owner that died mid-batch),
 * `failNext` rejects the next deliveries of a shard (a transient failure).
 */
export class RecordingHandler implements ShardHandler {
  readonly name: string;
  readonly shards = new Map<number, ShardLog>();
  hang = false;
  readonly #failNext = new Map<number, number>();
  readonly #overlap: OverlapDetector | undefined;
  readonly #processMs: number;
  readonly #resumeAfter: (shard: number) => number;

  /** @param options.resumeAfter what `assigned` resolves with per shard (the last applied position); -1 by default. */
  constructor(name: string, options: { overlap?: OverlapDetector; processMs?: number; resumeAfter?: (shard: number) => number } = {}) {
    this.name = name;
    this.#overlap = options.overlap;
    this.#processMs = options.processMs ?? 0;
    this.#resumeAfter = options.resumeAfter ?? (() => -1);
  }

  log(shard: number): ShardLog {
    let log = this.shards.get(shard);
    if (log === undefined) this.shards.set(shard, (log = { grants: [], revoked: [], deliveries: [], acknowledged: [] }));
    return log;
  }

  /** Rejects the next `times` deliveries of `shard` with a transient error. */
  failNext(shard: number, times = 1): void {
    this.#failNext.set(shard, times);
  }

  /** Shards whose latest grant has not been revoked. */
  owned(): number[] {
    return [...this.shards].filter(([, log]) => log.grants.length > log.revoked.length).map(([shard]) => shard);
  }

  /** Values received for a shard, first sighting only, in order. */
  values(shard: number): string[] {
    const seen = new Set<number>();
    const values: string[] = [];
    for (const delivery of this.shards.get(shard)?.deliveries ?? []) {
      if (seen.has(delivery.position)) continue;
      seen.add(delivery.position);
      values.push(delivery.value);
    }
    return values;
  }

  async assigned(grant: ShardGrant): Promise<number> {
    this.log(grant.shard).grants.push(grant);
    return this.#resumeAfter(grant.shard);
  }

  async deliver(grant: ShardGrant, batch: readonly Delivery[]): Promise<void> {
    this.#overlap?.enter(grant.shard, this.name);
    try {
      this.log(grant.shard).deliveries.push(...batch);
      if (this.hang) await new Promise<never>(() => {});
      if (this.#processMs > 0) await new Promise((resolve) => setTimeout(resolve, this.#processMs));
      const failures = this.#failNext.get(grant.shard) ?? 0;
      if (failures > 0) {
        this.#failNext.set(grant.shard, failures - 1);
        throw new Error('transient failure injected by the conformance suite');
      }
      this.log(grant.shard).acknowledged.push(...batch);
    } finally {
      this.#overlap?.leave(grant.shard);
    }
  }

  async revoked(grant: ShardGrant): Promise<void> {
    this.log(grant.shard).revoked.push(grant);
  }
}

/** Polls `check` until it returns true, or fails naming `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
