import type { ShardGrant } from '../transport.ts';

/**
 * One grant of one partition to this consumer: from `assigned` until `revoked`. Kept by
 * the group subscription, which is the only writer of its fields.
 */
export class PartitionRunner {
  readonly grant: ShardGrant;
  /** False once revoked or fenced: no `deliver` for this grant starts after that. */
  active = true;
  /** True once `assigned` resolved (the store accepted the claim). */
  claimed = false;
  /** The next offset the owner expects: the store's position + 1, then each acknowledged batch's last + 1. */
  next = 0;
  /** The offset this grant last sought to, so a gap in the log (retention, control records) is not sought forever. */
  soughtTo: number | undefined;
  /** Settles with the next offset once `assigned` did, or `undefined` when the claim was refused or the grant revoked first. */
  ready: Promise<number | undefined> = Promise.resolve(undefined);
  /** The committed-offset metadata naming this process as the holder, once claimed. */
  holder: string | undefined;
  /** The offset to commit to the group next, the last one committed (-1: none yet), and whether a commit is in flight. */
  commitTo = -1;
  committed = -1;
  committing = false;
  /** The batch being handled, if any; a revocation waits for it. */
  busy: Promise<void> | undefined;

  constructor(shard: number) {
    this.grant = { shard, epoch: 0 };
  }
}
