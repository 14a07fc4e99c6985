import { StaleEpochError } from '../core/errors.ts';
import type { Delivery, ShardGrant, ShardHandler } from '../transports/transport.ts';
import type { ProtocolMonitor } from './protocol-monitor.ts';

/** What one consumer saw of one shard. */
export interface ShardLog {
  /** Every grant `assigned` was called with, refused ones included. */
  readonly grants: ShardGrant[];
  /** Grants whose `assigned` this handler rejected. */
  readonly refused: ShardGrant[];
  readonly revoked: ShardGrant[];
  /** Every delivery, in the order received (redeliveries included). */
  readonly deliveries: Delivery[];
  /** Deliveries of calls that resolved (acknowledged), in order. */
  readonly acknowledged: Delivery[];
  /** The grant held now: accepted and not yet revoked. */
  current: ShardGrant | undefined;
}

/** How a {@link RecordingHandler} behaves, besides what tests steer while it runs. */
export interface RecordingHandlerOptions {
  /** Told of every call, to check the transport's side of the protocol. */
  readonly monitor?: ProtocolMonitor;
  /** How long each delivery takes (a slow batch), in ms. Default 0. */
  readonly processMs?: number;
  /** How long each `assigned` takes before it resolves (a slow claim), in ms. Default 0. */
  readonly assignMs?: number;
  /** What `assigned` resolves with per shard (the last applied position); -1 by default. */
  readonly resumeAfter?: (shard: number) => number;
}

/**
 * A ShardHandler that records everything and acknowledges by default. Tests steer it:
 * `hang` keeps deliveries unacknowledged forever (an owner that died mid-batch),
 * `failNext` rejects the next deliveries of a shard (a transient failure), `refuseNext`
 * rejects the next `assigned` of a shard and `fenceNext` the next delivery, both with
 * `StaleEpochError` (the state store refused the epoch).
 */
export class RecordingHandler implements ShardHandler {
  readonly name: string;
  readonly shards = new Map<number, ShardLog>();
  hang = false;
  readonly #failNext = new Map<number, number>();
  readonly #refuseNext = new Map<number, number>();
  readonly #fenceNext = new Set<number>();
  readonly #monitor: ProtocolMonitor | undefined;
  readonly #processMs: number;
  readonly #assignMs: number;
  readonly #resumeAfter: (shard: number) => number;

  constructor(name: string, options: RecordingHandlerOptions = {}) {
    this.name = name;
    this.#monitor = options.monitor;
    this.#processMs = options.processMs ?? 0;
    this.#assignMs = options.assignMs ?? 0;
    this.#resumeAfter = options.resumeAfter ?? (() => -1);
  }

  log(shard: number): ShardLog {
    let log = this.shards.get(shard);
    if (log === undefined) {
      log = { grants: [], refused: [], revoked: [], deliveries: [], acknowledged: [], current: undefined };
      this.shards.set(shard, log);
    }
    return log;
  }

  /** Rejects `times` more of the next deliveries of `shard` with a transient error. */
  failNext(shard: number, times = 1): void {
    this.#failNext.set(shard, (this.#failNext.get(shard) ?? 0) + times);
  }

  /** Rejects the next `times` calls of `assigned` for `shard` with `StaleEpochError`. */
  refuseNext(shard: number, times = 1): void {
    this.#refuseNext.set(shard, times);
  }

  /** Rejects the next delivery of `shard` with `StaleEpochError`: the grant is fenced. */
  fenceNext(shard: number): void {
    this.#fenceNext.add(shard);
  }

  /** Shards whose latest grant was accepted and not yet revoked. */
  owned(): number[] {
    return [...this.shards].filter(([, log]) => log.current !== undefined).map(([shard]) => shard);
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
    const log = this.log(grant.shard);
    log.grants.push(grant);
    this.#monitor?.assigning(this.name, grant);
    if (this.#assignMs > 0) await new Promise((resolve) => setTimeout(resolve, this.#assignMs));
    const refusals = this.#refuseNext.get(grant.shard) ?? 0;
    if (refusals > 0) {
      this.#refuseNext.set(grant.shard, refusals - 1);
      log.refused.push(grant);
      this.#monitor?.assigned(this.name, grant, false);
      throw new StaleEpochError(grant.shard, grant.epoch, grant.epoch + 1);
    }
    log.current = grant;
    this.#monitor?.assigned(this.name, grant, true);
    return this.#resumeAfter(grant.shard);
  }

  async deliver(grant: ShardGrant, batch: readonly Delivery[]): Promise<void> {
    const log = this.log(grant.shard);
    this.#monitor?.delivering(this.name, grant, batch);
    try {
      log.deliveries.push(...batch);
      if (this.hang) await new Promise<never>(() => {});
      if (this.#processMs > 0) await new Promise((resolve) => setTimeout(resolve, this.#processMs));
      if (this.#fenceNext.delete(grant.shard)) throw new StaleEpochError(grant.shard, grant.epoch, grant.epoch + 1);
      const failures = this.#failNext.get(grant.shard) ?? 0;
      if (failures > 0) {
        this.#failNext.set(grant.shard, failures - 1);
        throw new Error('transient failure injected by the conformance suite');
      }
    } catch (error) {
      this.#monitor?.delivered(this.name, grant, batch, error);
      throw error;
    }
    log.acknowledged.push(...batch);
    this.#monitor?.delivered(this.name, grant, batch, undefined);
  }

  async revoked(grant: ShardGrant): Promise<void> {
    const log = this.log(grant.shard);
    log.revoked.push(grant);
    if (log.current?.epoch === grant.epoch) log.current = undefined;
    this.#monitor?.revoked(this.name, grant);
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
