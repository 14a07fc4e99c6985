import { MAX_POSITION, type Delivery } from '../transports/transport.ts';

/**
 * Checks one grant's deliveries against the positions the transport contract promises,
 * before the owner applies them. The owner skips a command whose position is at or below
 * the shard's last applied one as a redelivery; a transport that broke the rules would
 * turn that skip into a silent loss, so a violation stops the shard instead:
 * - every position is an integer in `0..MAX_POSITION`, strictly increasing within a batch;
 * - within a grant, nothing at or below an acknowledged position comes again;
 * - a rejected batch comes again, every position of it, before anything newer.
 * (Positions at or below the shard's applied position from before the grant are
 * redeliveries the transport may make; `apply-batch` checks that they carry no new command.)
 */
export class DeliveryGuard {
  /** The highest position acknowledged in this grant. */
  #acknowledged = -1;
  /** Positions of rejected deliveries not delivered again yet, ascending. */
  #owed: number[] = [];
  /** What `#owed` becomes once the batch last checked is acknowledged. */
  #owedAfter: number[] = [];

  /**
   * What is wrong with `batch`, or `undefined` when it keeps the contract. `applied` is the
   * shard's last applied position: below it, a position not owed is a redelivery.
   */
  check(batch: readonly Delivery[], applied: number): string | undefined {
    const owed = this.#owed;
    let next = 0;
    let previous: number | undefined;
    for (const { position } of batch) {
      if (!Number.isSafeInteger(position) || position < 0 || position > MAX_POSITION) {
        return `position ${String(position)} is not an integer in 0..${MAX_POSITION} (2^37 - 1)`;
      }
      if (previous !== undefined && position <= previous) {
        return `positions go backwards within one delivery: ${position} after ${previous}`;
      }
      previous = position;
      if (position <= this.#acknowledged) {
        return `positions went backwards: position ${position} delivered after position ${this.#acknowledged} was acknowledged`;
      }
      const due = owed[next];
      if (due === undefined) continue;
      if (position === due) next++;
      else if (position > due) return `rejected position ${due} was not delivered again before position ${position}`;
      else if (position > applied) return `position ${position} delivered ahead of rejected position ${due}`;
    }
    this.#owedAfter = owed.slice(next);
    return undefined;
  }

  /** The owner resolved the batch it last checked: it is acknowledged. */
  acknowledged(batch: readonly Delivery[]): void {
    const last = batch[batch.length - 1];
    if (last !== undefined) this.#acknowledged = last.position;
    this.#owed = this.#owedAfter;
  }

  /**
   * The owner rejected the batch it last checked: all of it above `applied` must come again
   * before anything newer.
   */
  rejected(batch: readonly Delivery[], applied: number): void {
    const owed: number[] = [];
    for (const { position } of batch) if (position > applied) owed.push(position);
    this.#owed = [...owed, ...this.#owedAfter];
  }
}
