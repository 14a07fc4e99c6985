import type { ShardGrant } from '../transports/transport.ts';

/** One grant as the suite saw it: from the call of `assigned` until it was over. */
interface Held {
  readonly member: string;
  readonly grant: ShardGrant;
  readonly from: number;
  /** When `revoked` returned or `assigned` rejected; undefined while held. */
  ended: number | undefined;
  /** Deliveries of this grant still running (a revoke timeout may end a grant under one). */
  delivering: number;
  /** When the last delivery of this grant settled. */
  lastSettled: number;
}

/**
 * Every grant of every member of one check, per shard, on one clock. A grant is held from
 * the call of `assigned` until `revoked` returned (or `assigned` rejected), and for as
 * long as a delivery of it is still running: an owner that is alive and mid-batch holds
 * its shard even if the transport already called `revoked`. Two grants of one shard held
 * at the same moment are two writers, whoever let go "a moment later".
 */
export class GrantLedger {
  readonly #held = new Map<number, Held[]>();
  readonly #overlaps: string[] = [];
  readonly #started = performance.now();

  /** `member` was called with `assigned(grant)`. */
  assigning(member: string, grant: ShardGrant): void {
    const now = performance.now();
    const list = this.#held.get(grant.shard) ?? [];
    this.#held.set(grant.shard, list);
    for (const other of list) {
      const until = this.#heldUntil(other);
      if (until === undefined || until > now) {
        this.#overlaps.push(
          `shard ${grant.shard}: ${member} was granted it (epoch ${grant.epoch}) at ${this.#ms(now)} while ${other.member} still held its grant (epoch ${other.grant.epoch}, since ${this.#ms(other.from)}${other.delivering > 0 ? ', mid-batch' : ''})`,
        );
      }
    }
    list.push({ member, grant, from: now, ended: undefined, delivering: 0, lastSettled: now });
  }

  /** The grant's `assigned` rejected, or its `revoked` returned. */
  ended(member: string, grant: ShardGrant): void {
    const held = this.#find(member, grant);
    if (held !== undefined && held.ended === undefined) held.ended = performance.now();
  }

  /** A delivery of the grant started. */
  delivering(member: string, grant: ShardGrant): void {
    const held = this.#find(member, grant);
    if (held !== undefined) held.delivering++;
  }

  /** A delivery of the grant settled. */
  settled(member: string, grant: ShardGrant): void {
    const held = this.#find(member, grant);
    if (held === undefined) return;
    held.delivering--;
    held.lastSettled = performance.now();
  }

  /** A member died (SIGKILL): what it held ends now, whatever it was doing. */
  died(member: string): void {
    const now = performance.now();
    for (const list of this.#held.values()) {
      for (const held of list) {
        if (held.member !== member) continue;
        held.ended ??= now;
        held.delivering = 0;
        held.lastSettled = Math.min(held.lastSettled, now);
      }
    }
  }

  /** Every moment two grants of one shard were held at once, described. */
  overlaps(): readonly string[] {
    return this.#overlaps;
  }

  #heldUntil(held: Held): number | undefined {
    if (held.ended === undefined || held.delivering > 0) return undefined;
    return Math.max(held.ended, held.lastSettled);
  }

  #find(member: string, grant: ShardGrant): Held | undefined {
    const list = this.#held.get(grant.shard) ?? [];
    for (let i = list.length - 1; i >= 0; i--) {
      const held = list[i]!;
      if (held.member === member && held.grant.epoch === grant.epoch) return held;
    }
    return undefined;
  }

  #ms(at: number): string {
    return `${Math.round(at - this.#started)} ms`;
  }
}
