/** A refused or fenced partition waiting for proof that the group still assigns it here. */
interface Waiting {
  /** `performance.now()` when the claim was refused or the owner fenced. */
  readonly since: number;
  /** Successful heartbeats of the current member seen since then. */
  heartbeats: number;
}

/**
 * What this consumer knows of its place in the group: its member id and the partitions
 * its last join gave it, while that assignment is current.
 *
 * A partition whose claim was refused, or whose owner was fenced (STALE_EPOCH), is not
 * claimed again from what this member remembers: a member paused past its session timeout
 * (a zombie) still remembers an assignment the group has since given to another member,
 * and claiming from it would fence the rightful owner. It is claimed again only once the
 * membership is proven current after the refusal: by a new join (which grants afresh), or
 * by two successful heartbeats of the same member id — kafkajs heartbeats one at a time, so
 * the second one was sent after the first returned, after the refusal, and the broker
 * accepts a heartbeat only from a member of the current generation.
 */
export class GroupMembership {
  #memberId: string | undefined;
  #assignment: ReadonlySet<number> = new Set();
  readonly #waiting = new Map<number, Waiting>();

  /** The member id of the last join, if any. */
  get memberId(): string | undefined {
    return this.#memberId;
  }

  /** The partitions of the current assignment; empty while there is none. */
  get assignment(): ReadonlySet<number> {
    return this.#assignment;
  }

  /** The group gave this member `partitions`: the new current assignment; nothing waits any more. */
  joined(memberId: string, partitions: readonly number[]): void {
    this.#memberId = memberId;
    this.#assignment = new Set(partitions);
    this.#waiting.clear();
  }

  /** The assignment stopped being current (rebalancing, rejoining, stopped, crashed). */
  lapsed(): void {
    this.#assignment = new Set();
    this.#waiting.clear();
  }

  /** The claim of `shard` was refused or its owner fenced at `now`: wait for proof before claiming it again. */
  refused(shard: number, now: number): void {
    this.#waiting.set(shard, { since: now, heartbeats: 0 });
  }

  /**
   * A heartbeat of `memberId` succeeded at `now`. Returns the waiting partitions it proves
   * still assigned here (each returned once), at least `delayMs` after their refusal.
   */
  heartbeat(memberId: string, now: number, delayMs: number): number[] {
    if (memberId !== this.#memberId) return [];
    const proven: number[] = [];
    for (const [shard, waiting] of this.#waiting) {
      if (!this.#assignment.has(shard)) {
        this.#waiting.delete(shard);
        continue;
      }
      waiting.heartbeats++;
      if (waiting.heartbeats >= 2 && now - waiting.since >= delayMs) {
        this.#waiting.delete(shard);
        proven.push(shard);
      }
    }
    return proven;
  }
}
