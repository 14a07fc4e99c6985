import { MAX_POSITION, type Delivery, type ShardGrant } from '../transports/transport.ts';
import { GrantLedger } from './grant-ledger.ts';

type Phase = 'assigning' | 'active' | 'refused' | 'fenced' | 'revoked';

/** One member's current grant of one shard, and where its deliveries stand. */
interface GrantState {
  readonly grant: ShardGrant;
  phase: Phase;
  delivering: boolean;
  /** Last position of the last batch this grant acknowledged. */
  acknowledged: number | undefined;
  /** First message of a rejected batch: the next delivery must start with it. */
  rejected: Delivery | undefined;
}

/**
 * Watches every call a transport makes to the handlers of one check and writes down each
 * call the contract forbids: a delivery before `assigned` resolved, after `assigned`
 * rejected, after a `STALE_EPOCH` rejection or after `revoked`; two deliveries of one
 * grant at once; an empty batch; positions that are not integers in `0..MAX_POSITION`,
 * do not grow, or change between deliveries of one message; a rejected batch not
 * delivered again first; `revoked` for a grant that was never held; epochs that do not
 * grow; and, through its {@link GrantLedger}, two grants of one shard held at once.
 */
export class ProtocolMonitor {
  readonly ledger = new GrantLedger();
  readonly #violations: string[] = [];
  readonly #grants = new Map<string, GrantState>();
  /** Per shard: what each position carried when first delivered. */
  readonly #seen = new Map<number, Map<number, string>>();
  readonly #epochs = new Map<number, number>();
  readonly #dead = new Set<string>();
  readonly #epochsGrow: boolean;

  /** @param epochsGrow whether every grant's epoch must exceed every earlier grant's of its shard */
  constructor(epochsGrow: boolean) {
    this.#epochsGrow = epochsGrow;
  }

  /** Everything forbidden that happened so far, oldest first. */
  violations(): readonly string[] {
    return [...this.#violations, ...this.ledger.overlaps()];
  }

  /** `member` was called with `assigned(grant)`. */
  assigning(member: string, grant: ShardGrant): void {
    if (this.#dead.has(member)) return;
    const key = `${member}/${grant.shard}`;
    const current = this.#grants.get(key);
    if (current !== undefined && (current.phase === 'assigning' || current.phase === 'active' || current.phase === 'fenced')) {
      this.#violate(`shard ${grant.shard}: ${member} was assigned it again (epoch ${grant.epoch}) before its grant of epoch ${current.grant.epoch} was revoked`);
    }
    const highest = this.#epochs.get(grant.shard);
    if (this.#epochsGrow && highest !== undefined && grant.epoch <= highest) {
      this.#violate(`shard ${grant.shard}: expected a grant's epoch to exceed every earlier grant's (${highest}), got ${grant.epoch}`);
    }
    this.#epochs.set(grant.shard, Math.max(highest ?? grant.epoch, grant.epoch));
    this.#grants.set(key, { grant, phase: 'assigning', delivering: false, acknowledged: undefined, rejected: undefined });
    this.ledger.assigning(member, grant);
  }

  /** `member`'s `assigned(grant)` resolved (`accepted`) or rejected. */
  assigned(member: string, grant: ShardGrant, accepted: boolean): void {
    if (this.#dead.has(member)) return;
    const state = this.#state(member, grant);
    if (state === undefined) return;
    state.phase = accepted ? 'active' : 'refused';
    if (!accepted) this.ledger.ended(member, grant);
  }

  /** `member` was called with `deliver(grant, batch)`. */
  delivering(member: string, grant: ShardGrant, batch: readonly Delivery[]): void {
    if (this.#dead.has(member)) return;
    const where = `shard ${grant.shard}, ${member}, epoch ${grant.epoch}`;
    const state = this.#state(member, grant);
    if (state === undefined) {
      this.#violate(`${where}: a delivery to a grant that assigned() never saw`);
    } else {
      const phase = state.phase;
      if (phase === 'assigning') this.#violate(`${where}: deliver() was called before assigned() resolved`);
      if (phase === 'refused') this.#violate(`${where}: deliver() was called for a grant whose assigned() rejected`);
      if (phase === 'fenced') this.#violate(`${where}: deliver() was called after a deliver() of the grant rejected with STALE_EPOCH`);
      if (phase === 'revoked') this.#violate(`${where}: deliver() was called after revoked()`);
      if (state.delivering) this.#violate(`${where}: deliver() was called while another deliver() of the grant was running`);
      state.delivering = true;
      this.#checkOrder(where, state, batch);
    }
    this.#checkPositions(where, grant.shard, batch);
    this.ledger.delivering(member, grant);
  }

  /** `member`'s `deliver(grant, batch)` resolved (`error` undefined) or rejected with `error`. */
  delivered(member: string, grant: ShardGrant, batch: readonly Delivery[], error: unknown): void {
    if (this.#dead.has(member)) return;
    this.ledger.settled(member, grant);
    const state = this.#state(member, grant);
    if (state === undefined) return;
    state.delivering = false;
    if (batch.length === 0) return;
    if (error === undefined) {
      state.acknowledged = batch[batch.length - 1]!.position;
      state.rejected = undefined;
    } else if ((error as { code?: unknown }).code === 'STALE_EPOCH') {
      if (state.phase === 'active') state.phase = 'fenced';
    } else {
      state.rejected = batch[0];
    }
  }

  /** `member` was called with `revoked(grant)`. */
  revoked(member: string, grant: ShardGrant): void {
    if (this.#dead.has(member)) return;
    const where = `shard ${grant.shard}, ${member}, epoch ${grant.epoch}`;
    const state = this.#state(member, grant);
    if (state === undefined) this.#violate(`${where}: revoked() for a grant that assigned() never saw`);
    else if (state.phase === 'refused') this.#violate(`${where}: revoked() was called for a grant whose assigned() rejected`);
    else if (state.phase === 'revoked') this.#violate(`${where}: revoked() was called twice`);
    else if (state.phase === 'assigning') this.#violate(`${where}: revoked() was called before assigned() resolved`);
    if (state !== undefined) state.phase = 'revoked';
    this.ledger.ended(member, grant);
  }

  /** The member died: what it held ends now, and its calls are no longer watched. */
  died(member: string): void {
    this.#dead.add(member);
    this.ledger.died(member);
    for (const key of [...this.#grants.keys()]) if (key.startsWith(`${member}/`)) this.#grants.delete(key);
  }

  #state(member: string, grant: ShardGrant): GrantState | undefined {
    const state = this.#grants.get(`${member}/${grant.shard}`);
    return state !== undefined && state.grant.epoch === grant.epoch ? state : undefined;
  }

  /** Within one grant: a rejected batch comes again first; otherwise positions go on growing. */
  #checkOrder(where: string, state: GrantState, batch: readonly Delivery[]): void {
    const first = batch[0];
    if (first === undefined) {
      this.#violate(`${where}: deliver() was called with an empty batch`);
      return;
    }
    const rejected = state.rejected;
    if (rejected !== undefined && first.position !== rejected.position) {
      this.#violate(
        `${where}: expected the rejected batch to be delivered again first, starting at position ${rejected.position}, got a batch starting at position ${first.position}`,
      );
    } else if (rejected === undefined && state.acknowledged !== undefined && first.position <= state.acknowledged) {
      this.#violate(`${where}: expected positions after the acknowledged ${state.acknowledged}, got ${first.position}`);
    }
  }

  /** Every position an integer in range, growing within the batch, and the same message on every delivery. */
  #checkPositions(where: string, shard: number, batch: readonly Delivery[]): void {
    let seen = this.#seen.get(shard);
    if (seen === undefined) this.#seen.set(shard, (seen = new Map()));
    let previous: number | undefined;
    for (const delivery of batch) {
      const position = delivery.position;
      if (!Number.isSafeInteger(position) || position < 0 || position > MAX_POSITION) {
        this.#violate(`${where}: expected positions to be integers in 0..${MAX_POSITION} (2^37 - 1), got ${position}`);
        return;
      }
      if (previous !== undefined && position <= previous) {
        this.#violate(`${where}: expected strictly increasing positions within a batch, got ${position} after ${previous}`);
        return;
      }
      previous = position;
      const carried = `${delivery.key}\u0000${delivery.value}`;
      const before = seen.get(position);
      if (before === undefined) seen.set(position, carried);
      else if (before !== carried) {
        this.#violate(`${where}: position ${position} carried ${JSON.stringify(before.replace('\u0000', ' '))} before and ${JSON.stringify(carried.replace('\u0000', ' '))} now`);
      }
    }
  }

  #violate(description: string): void {
    if (this.#violations.length < 20) this.#violations.push(description);
  }
}
