import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { defineScript } from '../../common/redis.ts';
import { EXCERPT_CHARS, type TakenJob } from './job-data.ts';
import { memberInfoKey, type ShardKeys } from './keys.ts';
import { ACQUIRE, HEARTBEAT, RELEASE, RENEW } from './ownership-lua.ts';
import { CANCEL, DEPTH, RESERVE, TAKE } from './queue-lua.ts';

/** What a member records about itself with each heartbeat, for `owners()`. */
const MEMBER_INFO = JSON.stringify({ host: hostname(), pid: process.pid });

/** How `take` reads jobs: the byte limit on a job's data and the reservation TTL it extends. */
export interface TakeLimits {
  readonly maxJobBytes: number;
  readonly reservationTtlMs: number;
}

/** The transport's Lua scripts (`queue-lua.ts`, `ownership-lua.ts`) bound to one connection, with typed arguments. */
export class TransportScripts {
  readonly #reserve;
  readonly #cancel;
  readonly #depth;
  readonly #take;
  readonly #heartbeat;
  readonly #acquire;
  readonly #renew;
  readonly #release;

  constructor(client: Redis) {
    this.#reserve = defineScript(client, 'shardlineReserve', RESERVE);
    this.#cancel = defineScript(client, 'shardlineCancel', CANCEL);
    this.#depth = defineScript(client, 'shardlineDepth', DEPTH);
    this.#take = defineScript(client, 'shardlineTake', TAKE);
    this.#heartbeat = defineScript(client, 'shardlineHeartbeat', HEARTBEAT);
    this.#acquire = defineScript(client, 'shardlineAcquire', ACQUIRE);
    this.#renew = defineScript(client, 'shardlineRenew', RENEW);
    this.#release = defineScript(client, 'shardlineRelease', RELEASE);
  }

  /**
   * Admits `n` commands unless that leaves fewer than `reserve` slots free (or `force`),
   * holding them as reservation `jobId:n` until the job `jobId` is taken. Repeating it
   * with the same job id admits without counting again.
   */
  async reserve(keys: ShardKeys, n: number, capacity: number, reserve: number, force: boolean, jobId: string, ttlMs: number): Promise<{ admitted: boolean; held: number }> {
    const args = [n, capacity, reserve, force ? '1' : '0', jobId, ttlMs, keys.jobPrefix];
    const [admitted, held] = (await this.#reserve([keys.held, keys.reservations], args)) as [number, number];
    return { admitted: admitted === 1, held };
  }

  /** Gives back the slots of reservations (`jobId:n`) whose jobs were not added. */
  async cancel(keys: ShardKeys, reservations: readonly string[]): Promise<number> {
    return (await this.#cancel([keys.held, keys.reservations], reservations)) as number;
  }

  /** Commands the shard holds, after giving back reservations that lapsed. */
  async depth(keys: ShardKeys, reservationTtlMs: number): Promise<number> {
    return (await this.#depth([keys.held, keys.reservations], [keys.jobPrefix, reservationTtlMs])) as number;
  }

  /**
   * Acknowledges the jobs `acknowledged` (delivered and applied), telling producers that
   * wait for room (`keys.room`), then returns up to
   * `maxJobs` jobs to deliver next, oldest first, those taken before and not acknowledged
   * first except the jobs `holding` (taken and in the owner's hands, not yet applied), and
   * how many jobs are still waiting after them; `'lost'` when the lease is not this
   * grant's (nothing changed). Safe to repeat.
   */
  async take(keys: ShardKeys, token: string, maxJobs: number, acknowledged: readonly string[], holding: readonly string[], limits: TakeLimits): Promise<{ jobs: TakenJob[]; waiting: number } | 'lost'> {
    const takeKeys = [keys.lease, keys.wait, keys.active, keys.positions, keys.held, keys.reservations];
    const args = [token, maxJobs, keys.jobPrefix, limits.maxJobBytes, EXCERPT_CHARS, limits.reservationTtlMs, keys.room, holding.length, ...holding, ...acknowledged];
    const reply = (await this.#take(takeKeys, args)) as (string | number)[] | number;
    if (reply === -1) return 'lost';
    const flat = reply as (string | number)[];
    const jobs: TakenJob[] = [];
    for (let i = 1; i < flat.length; i += 5) {
      jobs.push({ id: String(flat[i]), first: Number(flat[i + 1]), count: Number(flat[i + 2]), data: String(flat[i + 3]), unreadable: String(flat[i + 4]) });
    }
    return { jobs, waiting: Number(flat[0]) };
  }

  /** Renews (or ends) membership, with this process's host and pid, and returns the live members. */
  async heartbeat(members: string, member: string, ttlMs: number, leave: boolean): Promise<string[]> {
    return (await this.#heartbeat([members, memberInfoKey(members)], [member, ttlMs, leave ? '1' : '0', MEMBER_INFO])) as string[];
  }

  /** Per shard, the epoch of the new grant, or 0 when another member holds the lease. */
  async acquire(shards: readonly ShardKeys[], member: string, ttlMs: number): Promise<number[]> {
    if (shards.length === 0) return [];
    return (await this.#acquire(shards.flatMap((k) => [k.lease, k.epoch, k.grant]), [member, ttlMs])) as number[];
  }

  /** Per lease, whether it was still held with its token and is now extended. */
  async renew(leases: readonly { keys: ShardKeys; token: string }[], ttlMs: number): Promise<boolean[]> {
    if (leases.length === 0) return [];
    const reply = (await this.#renew(leases.map((l) => l.keys.lease), [ttlMs, ...leases.map((l) => l.token)])) as number[];
    return reply.map((ok) => ok === 1);
  }

  /** Deletes the lease if it still holds `token`. */
  async release(keys: ShardKeys, token: string): Promise<void> {
    await this.#release([keys.lease], [token]);
  }
}
