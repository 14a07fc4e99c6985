import { StorageType, type JetStreamClient, type KV, type KvOptions } from 'nats';
import { ConfigError, ConnectionError } from '../../src/index.ts';
import { errorText } from './error-text.ts';
import { lookAgain } from './made-elsewhere.ts';
import type { Names } from './names.ts';
import type { NatsTransportSettings } from './options.ts';

/** A shard lease this member holds. */
export interface Lease {
  readonly shard: number;
  /** KV revision of the write that granted it: the grant's epoch. */
  readonly epoch: number;
  /** KV revision of the latest grant or renewal; the next renewal must match it. */
  readonly revision: number;
  /** `performance.now()` when that write was sent; the lease is trusted until `sentAt + leaseTtlMs - heartbeatMs`. */
  readonly sentAt: number;
}

/**
 * Membership and shard leases in one JetStream KV bucket whose entries live `leaseTtlMs`
 * after their last write (the bucket's max age, enforced by the server, so no clocks are
 * compared across processes). `members.<id>` is a member's heartbeat; `leases.<shard>` is
 * taken with `create` (only if absent) and renewed with `update` at the revision last
 * written, so exactly one member holds it. KV revisions are the bucket stream's sequence
 * numbers, which only grow, so the revision of the granting write is an epoch greater
 * than every earlier grant's of the shard, even after the key expired in between.
 */
export class OwnershipBucket {
  readonly #kv: KV;
  readonly #names: Names;
  readonly #memberId: string;

  private constructor(kv: KV, names: Names, memberId: string) {
    this.#kv = kv;
    this.#names = names;
    this.#memberId = memberId;
  }

  /** Opens (or creates) the bucket; an existing bucket with another TTL is a `ConfigError`. */
  static async open(js: JetStreamClient, names: Names, settings: NatsTransportSettings, memberId: string): Promise<OwnershipBucket> {
    try {
      const kv = await openBucket(js, names.bucket, {
        ttl: settings.leaseTtlMs,
        history: 1,
        storage: settings.storage === 'memory' ? StorageType.Memory : StorageType.File,
        replicas: settings.replicas,
        timeout: settings.requestTimeoutMs,
      });
      const status = await kv.status();
      if (status.ttl !== settings.leaseTtlMs) {
        throw new ConfigError([`nats.leaseTtlMs: expected ${settings.leaseTtlMs} to match bucket ${names.bucket}, got ${status.ttl}`]);
      }
      return new OwnershipBucket(kv, names, memberId);
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw new ConnectionError(`JetStream KV bucket ${names.bucket}`, errorText(error), { cause: error });
    }
  }

  /** Writes this member's heartbeat. */
  async heartbeat(): Promise<void> {
    await this.#kv.put(this.#names.member(this.#memberId), JSON.stringify({ pid: process.pid }));
  }

  /** Removes this member's heartbeat, so that the others rebalance without waiting for it to expire. */
  async leave(): Promise<void> {
    await this.#kv.delete(this.#names.member(this.#memberId));
  }

  /** Ids of the members whose heartbeat has not expired, sorted. */
  async members(): Promise<string[]> {
    const ids: string[] = [];
    const prefix = this.#names.member('');
    for await (const key of await this.#kv.keys(this.#names.members)) ids.push(key.slice(prefix.length));
    return ids.sort();
  }

  /** Takes the shard's lease if nobody holds it; `undefined` when another member does. */
  async acquire(shard: number): Promise<Lease | undefined> {
    const sentAt = performance.now();
    try {
      const revision = await this.#kv.create(this.#names.lease(shard), this.#value());
      return { shard, epoch: revision, revision, sentAt };
    } catch (error) {
      if (isConflict(error)) return undefined;
      throw error;
    }
  }

  /** Extends a held lease; `undefined` when it was lost (expired and taken, or deleted). */
  async renew(lease: Lease): Promise<Lease | undefined> {
    const sentAt = performance.now();
    try {
      const revision = await this.#kv.update(this.#names.lease(lease.shard), this.#value(), lease.revision);
      return { ...lease, revision, sentAt };
    } catch (error) {
      if (isConflict(error)) return undefined;
      throw error;
    }
  }

  /** Gives a lease up at once, unless another member already holds it. */
  async release(lease: Lease): Promise<void> {
    await this.#kv.delete(this.#names.lease(lease.shard), { previousSeq: lease.revision }).catch((error: unknown) => {
      if (!isConflict(error)) throw error;
    });
  }

  #value(): string {
    return JSON.stringify({ member: this.#memberId });
  }
}

function isConflict(error: unknown): boolean {
  const e = error as { api_error?: { err_code?: number }; message?: string };
  return e.api_error?.err_code === 10071 || (e.message ?? '').includes('wrong last sequence');
}

/**
 * Opens the bucket, creating it when missing (the client looks for its stream, then adds
 * it). Processes starting together race to add it: the losers look again.
 */
async function openBucket(js: JetStreamClient, name: string, options: Partial<KvOptions>): Promise<KV> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await js.views.kv(name, options);
    } catch (error) {
      if (!(await lookAgain(attempt, error))) throw error;
    }
  }
}
