/**
 * Every NATS name the transport uses, derived from the prefix and the domain, so that
 * several domains and several test namespaces share one server without meeting.
 */
export class Names {
  /** The stream holding every shard of the domain (`<prefix>_<domain>`). */
  readonly stream: string;
  /** The KV bucket holding member heartbeats and shard leases. */
  readonly bucket: string;
  readonly #subjectRoot: string;

  constructor(prefix: string, domain: string) {
    this.stream = `${prefix}_${domain}`;
    this.bucket = `${prefix}_${domain}_owners`;
    this.#subjectRoot = `${prefix}.${domain}`;
  }

  /** Every shard subject: what the stream captures. */
  get shardWildcard(): string {
    return `${this.#subjectRoot}.*`;
  }

  /** The subject of one shard's commands. */
  shard(shard: number): string {
    return `${this.#subjectRoot}.${shard}`;
  }

  /** Core NATS subject on which an owner announces that a shard made room (not captured by the stream). */
  acked(shard: number): string {
    return `${this.#subjectRoot}.acked.${shard}`;
  }

  /** Every shard's acknowledgement notices. */
  get ackedWildcard(): string {
    return `${this.#subjectRoot}.acked.*`;
  }

  /** KV key of one member's heartbeat. */
  member(id: string): string {
    return `members.${id}`;
  }

  /** KV filter of every member's heartbeat. */
  get members(): string {
    return 'members.*';
  }

  /** KV key of one shard's lease. */
  lease(shard: number): string {
    return `leases.${shard}`;
  }
}
