import type { Redis } from 'ioredis';
import { StaleEpochError } from '../core/errors.ts';
import { encodeState } from './encode-state.ts';
import { defineScript, type RedisScript } from '../common/redis.ts';
import { RedisDeadLetterQueue, deadLetterKeys } from './redis-dead-letters.ts';
import type { EntityRead, OutboxMessage, ShardCommit, ShardSnapshot, StateStore } from './state-store.ts';

/**
 * claim — takes a shard over and returns where it stands.
 * KEYS[1] meta hash (epoch, position)  KEYS[2] recent ids list  KEYS[3] outbox string  KEYS[4] origin marks hash
 * ARGV[1] the transport's offered epoch
 * Returns { epoch, position, recent ids, outbox JSON or false, flat marks (origin, seq, ...) }.
 */
const CLAIM = `
local stored = tonumber(redis.call('HGET', KEYS[1], 'epoch') or '0')
local epoch = math.max(stored + 1, tonumber(ARGV[1]))
redis.call('HSET', KEYS[1], 'epoch', string.format('%d', epoch))
local position = tonumber(redis.call('HGET', KEYS[1], 'position') or '-1')
return { epoch, position, redis.call('LRANGE', KEYS[2], 0, -1), redis.call('GET', KEYS[3]), redis.call('HGETALL', KEYS[4]) }
`;

/**
 * commit — writes one batch of a shard, or nothing when the epoch is not the current one or
 * the position is not above the stored one (a repeat: ioredis sends a command again after
 * a reconnect, so a commit whose reply was lost may arrive twice).
 * KEYS[1] meta hash  KEYS[2] state hash (entity key -> JSON)  KEYS[3] recent ids list
 * KEYS[4] outbox string  KEYS[5] origin marks hash (origin -> highest applied seq)
 * KEYS[6] dead letters list  KEYS[7] dead letters counter
 * ARGV[1] epoch  ARGV[2] position  ARGV[3] dedupe window  ARGV[4] outbox JSON ('' for none)
 * ARGV[5] c changes  ARGV[6] i applied ids  ARGV[7] m raised marks  ARGV[8] d dead letters
 * ARGV[9] dead letters kept, then: c (key, JSON) pairs, i ids, m (origin, seq) pairs,
 * d letters (JSON), and the forgotten origins to the end
 * Returns { 1 } when written, { 2 } for a repeat left unwritten, { 0, current epoch } when refused.
 */
const COMMIT = `
local current = tonumber(redis.call('HGET', KEYS[1], 'epoch') or '0')
if current ~= tonumber(ARGV[1]) then return { 0, current } end
local stored = tonumber(redis.call('HGET', KEYS[1], 'position') or '-1')
if stored >= 0 and tonumber(ARGV[2]) <= stored then return { 2 } end
local function each(first, last, fn)
  for i = first, last, 200 do fn(i, math.min(i + 199, last)) end
end
local changesFrom = 10
local idsFrom = changesFrom + 2 * tonumber(ARGV[5])
local marksFrom = idsFrom + tonumber(ARGV[6])
local lettersFrom = marksFrom + 2 * tonumber(ARGV[7])
local forgottenFrom = lettersFrom + tonumber(ARGV[8])
each(changesFrom, idsFrom - 1, function(a, b) redis.call('HSET', KEYS[2], unpack(ARGV, a, b)) end)
each(idsFrom, marksFrom - 1, function(a, b) redis.call('RPUSH', KEYS[3], unpack(ARGV, a, b)) end)
if marksFrom > idsFrom then redis.call('LTRIM', KEYS[3], -tonumber(ARGV[3]), -1) end
each(forgottenFrom, #ARGV, function(a, b) redis.call('HDEL', KEYS[5], unpack(ARGV, a, b)) end)
each(marksFrom, lettersFrom - 1, function(a, b) redis.call('HSET', KEYS[5], unpack(ARGV, a, b)) end)
each(lettersFrom, forgottenFrom - 1, function(a, b) redis.call('RPUSH', KEYS[6], unpack(ARGV, a, b)) end)
if forgottenFrom > lettersFrom then
  redis.call('LTRIM', KEYS[6], -tonumber(ARGV[9]), -1)
  redis.call('INCRBY', KEYS[7], forgottenFrom - lettersFrom)
end
redis.call('HSET', KEYS[1], 'position', ARGV[2])
if ARGV[4] == '' then redis.call('DEL', KEYS[4]) else redis.call('SET', KEYS[4], ARGV[4]) end
return { 1 }
`;

/**
 * read — one entity with the shard's epoch, position and one origin's mark, as of one moment
 * between commits (a script runs alone, so no commit is half visible).
 * KEYS[1] meta hash (epoch, position)  KEYS[2] state hash  KEYS[3] origin marks hash
 * ARGV[1] entity key  ARGV[2] origin (absent: no mark is read)
 * Returns { epoch or false, position or false, state JSON or false, mark or false }.
 */
const READ = `
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'position')
local mark = false
if #ARGV > 1 then mark = redis.call('HGET', KEYS[3], ARGV[2]) end
return { meta[1], meta[2], redis.call('HGET', KEYS[2], ARGV[1]), mark }
`;

/** Where a {@link RedisStateStore} keeps its data. */
export interface RedisStateStoreOptions {
  /** An open connection (see `openRedis`); the store does not close it unless `ownsClient`. */
  readonly client: Redis;
  /** The domain whose entities this store holds; part of every key. */
  readonly domain: string;
  /** Key prefix. @defaultValue `shardline` */
  readonly prefix?: string;
  /** Recent command ids per shard kept for dedupe. @defaultValue 10000 */
  readonly dedupeWindow?: number;
  /** Dead letters kept (older ones are dropped, still counted). @defaultValue 10000 */
  readonly deadLetterCapacity?: number;
  /** Close `client` with the store. @defaultValue false */
  readonly ownsClient?: boolean;
}

type ClaimReply = [number, number, string[], string | null, string[]];
type CommitReply = [1] | [2] | [0, number];
type ReadReply = [string | null, string | null, string | null, string | null];

/** Where one shard's data lives; the keys share a hash tag, so a cluster keeps them in one slot. */
interface ShardKeys {
  readonly meta: string;
  readonly state: string;
  readonly ids: string;
  readonly outbox: string;
  readonly marks: string;
}

/**
 * The shared state store: every shard's entities, last applied position, dedupe window,
 * origin marks, outbox, epoch and the domain's dead letters live in Redis, so any process that is granted a shard (with any
 * transport) starts from where the last owner committed. Each commit is one Lua script
 * that checks the epoch and writes everything, so a stale owner changes nothing. The
 * keys of a shard share a hash tag and therefore a cluster slot.
 */
export class RedisStateStore implements StateStore {
  readonly name = 'redis';
  /** The domain's dead letters, written by this store's commits; listable from any process. */
  readonly deadLetters: RedisDeadLetterQueue;
  readonly #client: Redis;
  readonly #prefix: string;
  readonly #domain: string;
  readonly #dedupeWindow: number;
  readonly #ownsClient: boolean;
  readonly #deadLetterKeys: { list: string; count: string };
  readonly #claim: RedisScript;
  readonly #commit: RedisScript;
  readonly #read: RedisScript;
  readonly #shardKeys = new Map<number, ShardKeys>();
  #closed = false;

  constructor(options: RedisStateStoreOptions) {
    this.#client = options.client;
    this.#prefix = options.prefix ?? 'shardline';
    this.#domain = options.domain;
    this.#dedupeWindow = options.dedupeWindow ?? 10_000;
    this.#ownsClient = options.ownsClient ?? false;
    this.deadLetters = new RedisDeadLetterQueue({ client: this.#client, prefix: this.#prefix, domain: this.#domain, capacity: options.deadLetterCapacity });
    this.#deadLetterKeys = deadLetterKeys(this.#prefix, this.#domain);
    this.#claim = defineScript(this.#client, 'shardlineStoreClaim', CLAIM);
    this.#commit = defineScript(this.#client, 'shardlineStoreCommit', COMMIT);
    this.#read = defineScript(this.#client, 'shardlineStoreRead', READ);
  }

  /** A shard's keys, made once: every read and commit names them. */
  #keys(shard: number): ShardKeys {
    let keys = this.#shardKeys.get(shard);
    if (keys === undefined) {
      const base = `${this.#prefix}:store:{${this.#domain}:${shard}}`;
      keys = { meta: `${base}:meta`, state: `${base}:state`, ids: `${base}:ids`, outbox: `${base}:outbox`, marks: `${base}:marks` };
      this.#shardKeys.set(shard, keys);
    }
    return keys;
  }

  async claim(shard: number, offeredEpoch: number): Promise<ShardSnapshot> {
    const k = this.#keys(shard);
    const [epoch, position, recentIds, outbox, flatMarks] = (await this.#claim([k.meta, k.ids, k.outbox, k.marks], [offeredEpoch])) as ClaimReply;
    const marks = new Map<string, number>();
    for (let i = 0; i < flatMarks.length; i += 2) marks.set(flatMarks[i]!, Number(flatMarks[i + 1]));
    return { epoch, position, recentIds, marks, outbox: outbox === null ? [] : (JSON.parse(outbox) as OutboxMessage[]) };
  }

  async load(shard: number, keys: readonly string[]): Promise<Map<string, unknown>> {
    const found = new Map<string, unknown>();
    if (keys.length === 0) return found;
    const values = await this.#client.hmget(this.#keys(shard).state, ...keys);
    values.forEach((value, i) => {
      if (value !== null) found.set(keys[i]!, JSON.parse(value));
    });
    return found;
  }

  async commit(shard: number, commit: ShardCommit): Promise<void> {
    const k = this.#keys(shard);
    const args: (string | number)[] = [
      commit.epoch,
      commit.position,
      this.#dedupeWindow,
      commit.outbox.length === 0 ? '' : JSON.stringify(commit.outbox.map(encodeOutbox)),
      commit.changes.size,
      commit.appliedIds.length,
      commit.marks.size,
      commit.deadLetters.length,
      this.deadLetters.capacity,
    ];
    for (const [key, state] of commit.changes) args.push(key, encodeState(shard, key, state));
    for (const id of commit.appliedIds) args.push(id);
    for (const [origin, seq] of commit.marks) args.push(origin, seq);
    for (const letter of commit.deadLetters) args.push(JSON.stringify(letter));
    for (const origin of commit.forgottenMarks) args.push(origin);
    const keys = [k.meta, k.state, k.ids, k.outbox, k.marks, this.#deadLetterKeys.list, this.#deadLetterKeys.count];
    const reply = (await this.#commit(keys, args)) as CommitReply;
    if (reply[0] === 0) throw new StaleEpochError(shard, commit.epoch, reply[1]);
  }

  async read(shard: number, key: string, origin?: string): Promise<EntityRead> {
    const k = this.#keys(shard);
    const args = origin === undefined ? [key] : [key, origin];
    const [epoch, position, state, mark] = (await this.#read([k.meta, k.state, k.marks], args)) as ReadReply;
    return {
      found: state !== null,
      state: state === null ? undefined : JSON.parse(state),
      position: Number(position ?? -1),
      epoch: Number(epoch ?? 0),
      mark: mark === null ? undefined : Number(mark),
    };
  }

  async *entries(): AsyncIterable<[string, unknown]> {
    const pattern = `${escapeGlob(`${this.#prefix}:store:{${this.#domain}:`)}*}:state`;
    let cursor = '0';
    do {
      const [next, keys] = await this.#client.scan(cursor, 'MATCH', pattern, 'COUNT', 100);
      cursor = next;
      for (const key of keys) {
        let fieldCursor = '0';
        do {
          const [nextField, flat] = await this.#client.hscan(key, fieldCursor, 'COUNT', 500);
          fieldCursor = nextField;
          for (let i = 0; i < flat.length; i += 2) yield [flat[i]!, JSON.parse(flat[i + 1]!)];
        } while (fieldCursor !== '0');
      }
    } while (cursor !== '0');
  }

  async status(shard: number): Promise<{ epoch: number; position: number }> {
    const [epoch, position] = await this.#client.hmget(this.#keys(shard).meta, 'epoch', 'position');
    return { epoch: Number(epoch ?? 0), position: Number(position ?? -1) };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsClient) await this.#client.quit().catch(() => undefined);
  }
}

/** An outbox message as stored: `value` read out, since it may be a getter that encodes on first read. */
function encodeOutbox(message: OutboxMessage): OutboxMessage {
  return { key: message.key, value: message.value };
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
