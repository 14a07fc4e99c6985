import type { Redis } from 'ioredis';
import { defineScript } from '../../common/redis.ts';
import type { ShardKeys } from './keys.ts';

/**
 * reserve — admits `n` commands to a shard or refuses, atomically across producers. An
 * admission is held as a reservation until the owner takes the job that carries it, so
 * the slots of a producer that died between reserving and adding come back once the
 * reservation expires. Expired reservations are reclaimed here first.
 * KEYS[1] held counter  KEYS[2] reservations sorted set (member 'token:n', score = expiry ms)
 * ARGV[1] n  ARGV[2] capacity  ARGV[3] reserve (slots that must stay free)  ARGV[4] '1' to force
 * ARGV[5] reservation token  ARGV[6] reservation ttl ms
 * Returns { 1, held after } when admitted, { 0, held now } when refused.
 */
const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
if #expired > 0 then
  local lapsed = 0
  for i = 1, #expired do lapsed = lapsed + tonumber(string.match(expired[i], ':(%d+)$')) end
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  redis.call('DECRBY', KEYS[1], lapsed)
end
local held = tonumber(redis.call('GET', KEYS[1]) or '0')
local n = tonumber(ARGV[1])
if ARGV[4] ~= '1' and held + n > tonumber(ARGV[2]) - tonumber(ARGV[3]) then return { 0, held } end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[6]), ARGV[5] .. ':' .. n)
return { 1, redis.call('INCRBY', KEYS[1], n) }
`;

/**
 * cancel — gives back reservations whose job could not be added.
 * KEYS[1] held counter  KEYS[2] reservations sorted set
 * ARGV reservation members ('token:n')
 * Returns the slots given back (a reservation already taken or lapsed gives none).
 */
const CANCEL = `
local freed = 0
for i = 1, #ARGV do
  if redis.call('ZREM', KEYS[2], ARGV[i]) == 1 then freed = freed + tonumber(string.match(ARGV[i], ':(%d+)$')) end
end
if freed > 0 then redis.call('DECRBY', KEYS[1], freed) end
return freed
`;

/**
 * heartbeat — records this member as alive (or gone), forgets expired ones, lists the rest.
 * KEYS[1] members sorted set (score = expiry, Redis server time in ms)
 * ARGV[1] member id  ARGV[2] ttl ms  ARGV[3] '1' to leave
 * Returns the live member ids.
 */
const HEARTBEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if ARGV[3] == '1' then
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
end
return redis.call('ZRANGE', KEYS[1], 0, -1)
`;

/**
 * acquire — takes the leases of free shards; each grant gets the shard's next epoch.
 * KEYS lease1, epoch1, lease2, epoch2, ...
 * ARGV[1] member id  ARGV[2] ttl ms
 * Returns, per shard, the new epoch (the lease then holds 'member:epoch') or 0 when held by another.
 */
const ACQUIRE = `
local out = {}
for i = 1, #KEYS, 2 do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    out[#out + 1] = 0
  else
    local epoch = redis.call('INCR', KEYS[i + 1])
    redis.call('SET', KEYS[i], ARGV[1] .. ':' .. epoch, 'PX', ARGV[2])
    out[#out + 1] = epoch
  end
end
return out
`;

/**
 * renew — extends leases still held with the given tokens.
 * KEYS lease1, lease2, ...  ARGV[1] ttl ms  ARGV[2..] the token ('member:epoch') of each lease
 * Returns, per lease, 1 when renewed, 0 when it is gone or someone else's.
 */
const RENEW = `
local out = {}
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[i + 1] then
    redis.call('PEXPIRE', KEYS[i], ARGV[1])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
`;

/**
 * release — gives a lease up if it is still this grant's (compare and delete).
 * KEYS[1] lease  ARGV[1] token
 * Returns 1 when deleted.
 */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * recover — on a new grant, puts the jobs a previous owner took but never acknowledged
 * back at the head of the queue, oldest first in line, so the shard stays in order.
 * KEYS[1] lease  KEYS[2] active list  KEYS[3] wait list
 * ARGV[1] token
 * Returns how many jobs were put back, -1 when the lease is not this grant's.
 */
const RECOVER = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local ids = redis.call('LRANGE', KEYS[2], 0, -1)
for i = 1, #ids do redis.call('RPUSH', KEYS[3], ids[i]) end
redis.call('DEL', KEYS[2])
return #ids
`;

/**
 * fetch — the owner takes the oldest waiting jobs, fenced by its lease. Taking a job ends
 * its reservation; a job whose reservation had lapsed (its producer stalled past the
 * TTL) is counted in `held` again here. A job's first position is given on its first
 * fetch (the shard's position counter advances by the job's command count) and kept on
 * the job, so positions are dense, grow in queue order and stay the same when a job is
 * delivered again.
 * KEYS[1] lease  KEYS[2] wait list  KEYS[3] active list  KEYS[4] position counter
 * KEYS[5] held counter  KEYS[6] reservations sorted set
 * ARGV[1] token  ARGV[2] most jobs  ARGV[3] job key prefix
 * Returns { id1, data1, first position1, ... } (oldest first), or -1 when the lease is not this grant's.
 */
const FETCH = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local out = {}
for i = 1, tonumber(ARGV[2]) do
  local id = redis.call('RPOPLPUSH', KEYS[2], KEYS[3])
  if not id then break end
  local job = ARGV[3] .. id
  local fields = redis.call('HMGET', job, 'data', 'name', 'slpos')
  if fields[1] then
    local first = fields[3]
    if not first then
      local reservation = fields[2]
      local count = tonumber(string.match(reservation, ':(%d+)$') or '') or #cjson.decode(fields[1]).m
      if redis.call('ZREM', KEYS[6], reservation) == 0 then redis.call('INCRBY', KEYS[5], count) end
      first = redis.call('INCRBY', KEYS[4], count) - count
      redis.call('HSET', job, 'slpos', first)
    end
    out[#out + 1] = id
    out[#out + 1] = fields[1]
    out[#out + 1] = tostring(first)
  else
    redis.call('LREM', KEYS[3], 1, id)
  end
end
return out
`;

/**
 * ack — removes delivered jobs and frees their commands' slots, fenced by the lease.
 * KEYS[1] lease  KEYS[2] active list  KEYS[3] held counter
 * ARGV[1] token  ARGV[2] job key prefix  ARGV[3..] pairs of (job id, command count)
 * Returns the slots freed, or -1 when the lease is not this grant's (nothing changed).
 */
const ACK = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local freed = 0
for i = 3, #ARGV, 2 do
  if redis.call('LREM', KEYS[2], 1, ARGV[i]) == 1 then
    redis.call('DEL', ARGV[2] .. ARGV[i])
    freed = freed + tonumber(ARGV[i + 1])
  end
end
if freed > 0 then redis.call('DECRBY', KEYS[3], freed) end
return freed
`;

/** A job taken by `fetch`: its BullMQ id, its JSON data and the position of its first command. */
export interface FetchedJob {
  readonly id: string;
  readonly data: string;
  readonly first: number;
}

/** The transport's Lua scripts bound to one connection, with typed arguments. */
export class TransportScripts {
  readonly #reserve;
  readonly #cancel;
  readonly #heartbeat;
  readonly #acquire;
  readonly #renew;
  readonly #release;
  readonly #recover;
  readonly #fetch;
  readonly #ack;

  constructor(client: Redis) {
    this.#reserve = defineScript(client, 'shardlineReserve', RESERVE);
    this.#cancel = defineScript(client, 'shardlineCancel', CANCEL);
    this.#heartbeat = defineScript(client, 'shardlineHeartbeat', HEARTBEAT);
    this.#acquire = defineScript(client, 'shardlineAcquire', ACQUIRE);
    this.#renew = defineScript(client, 'shardlineRenew', RENEW);
    this.#release = defineScript(client, 'shardlineRelease', RELEASE);
    this.#recover = defineScript(client, 'shardlineRecover', RECOVER);
    this.#fetch = defineScript(client, 'shardlineFetch', FETCH);
    this.#ack = defineScript(client, 'shardlineAck', ACK);
  }

  /**
   * Admits `n` commands unless that leaves fewer than `reserve` slots free (or `force`),
   * holding them as reservation `token:n` (the name of the job that will carry them).
   */
  async reserve(keys: ShardKeys, n: number, capacity: number, reserve: number, force: boolean, token: string, ttlMs: number): Promise<{ admitted: boolean; held: number }> {
    const args = [n, capacity, reserve, force ? '1' : '0', token, ttlMs];
    const [admitted, held] = (await this.#reserve([keys.held, keys.reservations], args)) as [number, number];
    return { admitted: admitted === 1, held };
  }

  /** Gives back the slots of reservations (`token:n`) whose jobs were not added. */
  async cancel(keys: ShardKeys, reservations: readonly string[]): Promise<number> {
    return (await this.#cancel([keys.held, keys.reservations], reservations)) as number;
  }

  /** Renews (or ends) membership and returns the live members. */
  async heartbeat(members: string, member: string, ttlMs: number, leave: boolean): Promise<string[]> {
    return (await this.#heartbeat([members], [member, ttlMs, leave ? '1' : '0'])) as string[];
  }

  /** Per shard, the epoch of the new grant, or 0 when another member holds the lease. */
  async acquire(shards: readonly ShardKeys[], member: string, ttlMs: number): Promise<number[]> {
    if (shards.length === 0) return [];
    return (await this.#acquire(shards.flatMap((k) => [k.lease, k.epoch]), [member, ttlMs])) as number[];
  }

  /** Per lease, whether it was still held with its token and is now extended. */
  async renew(leases: readonly { keys: ShardKeys; token: string }[], ttlMs: number): Promise<boolean[]> {
    if (leases.length === 0) return [];
    const reply = (await this.#renew(leases.map((l) => l.keys.lease), [ttlMs, ...leases.map((l) => l.token)])) as number[];
    return reply.map((ok) => ok === 1);
  }

  async release(keys: ShardKeys, token: string): Promise<void> {
    await this.#release([keys.lease], [token]);
  }

  /** Jobs put back in line, or -1 when the lease is lost. */
  async recover(keys: ShardKeys, token: string): Promise<number> {
    return (await this.#recover([keys.lease, keys.active, keys.wait], [token])) as number;
  }

  /** The oldest waiting jobs, or `undefined` when the lease is lost. */
  async fetch(keys: ShardKeys, token: string, maxJobs: number): Promise<FetchedJob[] | undefined> {
    const fetchKeys = [keys.lease, keys.wait, keys.active, keys.positions, keys.held, keys.reservations];
    const reply = (await this.#fetch(fetchKeys, [token, maxJobs, keys.jobPrefix])) as string[] | number;
    if (reply === -1) return undefined;
    const jobs: FetchedJob[] = [];
    const flat = reply as string[];
    for (let i = 0; i < flat.length; i += 3) jobs.push({ id: flat[i]!, data: flat[i + 1]!, first: Number(flat[i + 2]) });
    return jobs;
  }

  /** Slots freed, or -1 when the lease is lost. */
  async ack(keys: ShardKeys, token: string, jobs: readonly { id: string; count: number }[]): Promise<number> {
    return (await this.#ack([keys.lease, keys.active, keys.held], [token, keys.jobPrefix, ...jobs.flatMap((j) => [j.id, j.count])])) as number;
  }
}
