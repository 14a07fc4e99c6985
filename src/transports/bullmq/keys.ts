/**
 * Names of everything the BullMQ transport keeps in Redis. A shard's queue is the BullMQ
 * queue `domain.shard` under the BullMQ key prefix `prefix`, so BullMQ tools see it; the
 * transport's own per-shard keys sit next to BullMQ's under the same queue key.
 */
export interface ShardKeys {
  readonly shard: number;
  /** The BullMQ queue name. */
  readonly queue: string;
  /** BullMQ's list of waiting job ids (new ones pushed left, taken from the right). */
  readonly wait: string;
  /** BullMQ's list of jobs taken by the owner and not yet acknowledged. */
  readonly active: string;
  /** BullMQ's marker sorted set, touched on every add: what an idle owner blocks on. */
  readonly marker: string;
  /** Prefix of a job's hash: `jobPrefix + id`. */
  readonly jobPrefix: string;
  /** Commands held (reserved, waiting or active), the counter that bounds the shard. */
  readonly held: string;
  /** Admissions whose job the owner has not taken yet, `job id:n` scored by expiry. */
  readonly reservations: string;
  /** The ownership lease: `member:epoch` of the owner, with a TTL. */
  readonly lease: string;
  /** The latest grant, for inspection: a hash of `member`, `epoch` and `since` (Redis time in ms). */
  readonly grant: string;
  /** The grant counter; each new lease takes the next value as its epoch. */
  readonly epoch: string;
  /** Commands ever given a position: the next job's first position. */
  readonly positions: string;
  /** The pub/sub channel `take` publishes to when it frees room: producers waiting for room listen. */
  readonly room: string;
}

/** Keys of one shard. */
export function shardKeys(prefix: string, domain: string, shard: number): ShardKeys {
  const queue = `${domain}.${shard}`;
  const base = `${prefix}:${queue}`;
  return {
    shard,
    queue,
    wait: `${base}:wait`,
    active: `${base}:active`,
    marker: `${base}:marker`,
    jobPrefix: `${base}:`,
    held: `${base}:sl:held`,
    reservations: `${base}:sl:reservations`,
    lease: `${base}:sl:lease`,
    grant: `${base}:sl:grant`,
    epoch: `${base}:sl:epoch`,
    positions: `${base}:sl:positions`,
    room: `${base}:sl:room`,
  };
}

/** The sorted set of live consumer processes of a domain, scored by when each expires. */
export function membersKey(prefix: string, domain: string): string {
  return `${prefix}:${domain}:sl:members`;
}

/**
 * Where each live member says where it runs: a hash of member id to `{ host, pid }` JSON,
 * written with the member's heartbeat into the sorted set `members` and forgotten with it.
 */
export function memberInfoKey(members: string): string {
  return `${members}:info`;
}
