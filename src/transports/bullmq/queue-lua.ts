// The Lua scripts that bound a shard's queue and move its jobs. Redis does not roll back a
// script that fails half-way, so each one reads and checks everything that could make a
// call raise before its first write; and each is safe to run twice, because ioredis sends
// a command again when its reply was lost with the connection.

import { MESSAGES_PER_JOB } from './job-data.ts';

/**
 * Helpers every queue script starts with. `counter` reads a key that must hold an integer
 * (raising WRONGTYPE, before any write, when it is not a string at all). `reclaim` gives
 * back the room of reservations past their expiry whose job never arrived; a reservation
 * whose job is waiting (added, not yet taken) is extended instead, because that job is
 * still counted in `held` until it is taken, however long no owner comes.
 */
const PRELUDE = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function counter(key)
  local value = redis.call('GET', key)
  if not value then return 0 end
  return tonumber(value)
end

local function reclaim(held, reservations, job_prefix, now, ttl)
  local expired = redis.call('ZRANGEBYSCORE', reservations, '-inf', now)
  local lapsed = 0
  for i = 1, #expired do
    local id, n = string.match(expired[i], '^(.+):(%d+)$')
    local job = job_prefix .. (id or '')
    if id and redis.call('TYPE', job).ok == 'hash' and redis.call('HEXISTS', job, 'slpos') == 0 then
      redis.call('ZADD', reservations, now + ttl, expired[i])
    else
      redis.call('ZREM', reservations, expired[i])
      lapsed = lapsed + (tonumber(n) or 0)
    end
  end
  if lapsed > 0 then redis.call('DECRBY', held, lapsed) end
  return lapsed
end

local function not_a_counter(key)
  return redis.error_reply('ERR shardline: expected an integer at ' .. key .. ', got something else; nothing was changed')
end
`;

/**
 * reserve — admits `n` commands to a shard or refuses, atomically across producers. The
 * admission is held as a reservation until the owner takes the job that carries it, so
 * the room of a producer that died between reserving and adding comes back once the
 * reservation lapses. A replay (same job id) admits without counting again.
 * KEYS[1] held counter  KEYS[2] reservations sorted set (member 'job id:n', score = expiry, Redis time in ms)
 * ARGV[1] n  ARGV[2] capacity  ARGV[3] reserve (slots that must stay free)  ARGV[4] '1' to force
 * ARGV[5] id of the job the room is for  ARGV[6] reservation ttl ms  ARGV[7] job key prefix
 * Returns { 1, held after } when admitted (now or by the run it replays), { 0, held now } when refused.
 */
export const RESERVE = `${PRELUDE}
local held = counter(KEYS[1])
if not held then return not_a_counter(KEYS[1]) end
local now = now_ms()
local ttl = tonumber(ARGV[6])
held = held - reclaim(KEYS[1], KEYS[2], ARGV[7], now, ttl)
local member = ARGV[5] .. ':' .. ARGV[1]
if redis.call('ZSCORE', KEYS[2], member) then return { 1, held } end
local n = tonumber(ARGV[1])
if ARGV[4] ~= '1' and held + n > tonumber(ARGV[2]) - tonumber(ARGV[3]) then return { 0, held } end
redis.call('ZADD', KEYS[2], now + ttl, member)
return { 1, redis.call('INCRBY', KEYS[1], n) }
`;

/**
 * cancel — gives back reservations whose job could not be added. Should the job have
 * been added after all, `take` counts it again when it takes it.
 * KEYS[1] held counter  KEYS[2] reservations sorted set
 * ARGV reservation members ('job id:n')
 * Returns the slots given back (a reservation already taken or lapsed gives none).
 */
export const CANCEL = `${PRELUDE}
if not counter(KEYS[1]) then return not_a_counter(KEYS[1]) end
redis.call('ZCARD', KEYS[2])
local freed = 0
for i = 1, #ARGV do
  if redis.call('ZREM', KEYS[2], ARGV[i]) == 1 then freed = freed + (tonumber(string.match(ARGV[i], ':(%d+)$')) or 0) end
end
if freed > 0 then redis.call('DECRBY', KEYS[1], freed) end
return freed
`;

/**
 * depth — the commands a shard holds (reserved, waiting or taken and not acknowledged),
 * after giving back the room of lapsed reservations, so that it is exact again once
 * `reservationTtlMs` passed even when nothing else touches the shard.
 * KEYS[1] held counter  KEYS[2] reservations sorted set
 * ARGV[1] job key prefix  ARGV[2] reservation ttl ms
 * Returns the held count.
 */
export const DEPTH = `${PRELUDE}
local held = counter(KEYS[1])
if not held then return not_a_counter(KEYS[1]) end
return held - reclaim(KEYS[1], KEYS[2], ARGV[1], now_ms(), tonumber(ARGV[2]))
`;

/**
 * take — one round trip of the owner, fenced by its lease: acknowledges the jobs of the
 * batch it just delivered (removing them and freeing their commands' room), gives back
 * lapsed reservations, then returns the next jobs, oldest first: first the jobs already
 * taken and not acknowledged (the active list: what a previous owner left, or what this
 * grant took in a run whose reply was lost), then new ones from the wait list. Running it
 * twice therefore returns the same jobs and frees nothing twice. Jobs the owner holds
 * (taken, being delivered while this take fetches the next) are named and passed over:
 * they are still in the active list, and only they are skipped, whatever another program
 * did to that list.
 *
 * A job taken for the first time gets its command count and first position here, stored
 * on the job (`slcount`, `slpos`): the count is `n` when the data starts `{"n":<n>,"m":[`
 * with n from 1 to MESSAGES_PER_JOB (how producers write it: read without decoding the
 * data, which was most of this script's time), else the length of the data's `m` when
 * that is a non-empty array, else 1 (the job is one unreadable message); the shard's
 * position counter advances by it. A count the data's `m` does not bear out makes the job
 * one unreadable delivery (`deliveriesOf`). Its reservation (`id:count`) ends; a job without one (its
 * reservation lapsed, or another program added it) is counted in `held` now. A job whose
 * data is missing or over the byte limit is not decoded, and only the start of its data
 * is returned. An id whose job is gone is dropped from the active list. A job an earlier
 * version took (`slpos` without `slcount`) keeps its position and gets its count.
 * KEYS[1] lease  KEYS[2] wait list  KEYS[3] active list  KEYS[4] position counter
 * KEYS[5] held counter  KEYS[6] reservations sorted set
 * ARGV[1] lease token  ARGV[2] most jobs to return (0: only acknowledge)  ARGV[3] job key prefix
 * ARGV[4] most bytes of job data decoded  ARGV[5] bytes returned of a job's data over it
 * ARGV[6] reservation ttl ms  ARGV[7] the room channel, published to when commands are freed
 * ARGV[8] h, the number of jobs held  ARGV[9..8+h] their ids  ARGV[9+h..] ids of the jobs acknowledged
 * Returns -1 when the lease is not this grant's (nothing changed); else the number of jobs
 * still waiting, then per job, flat: id, first position, command count, data ('' when
 * none), why it cannot be read ('' when it can).
 */
export const TAKE = `${PRELUDE}
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if not counter(KEYS[4]) then return not_a_counter(KEYS[4]) end
if not counter(KEYS[5]) then return not_a_counter(KEYS[5]) end
redis.call('LLEN', KEYS[2])
local backlog = redis.call('LLEN', KEYS[3])
local prefix = ARGV[3]
reclaim(KEYS[5], KEYS[6], prefix, now_ms(), tonumber(ARGV[6]))

local held_count = tonumber(ARGV[8])
local held = {}
for i = 9, 8 + held_count do held[ARGV[i]] = true end

local freed = 0
for i = 9 + held_count, #ARGV do
  local job = prefix .. ARGV[i]
  local count = 0
  if redis.call('TYPE', job).ok == 'hash' then count = tonumber(redis.call('HGET', job, 'slcount')) or 0 end
  if redis.call('LREM', KEYS[3], 1, ARGV[i]) == 1 then
    redis.call('DEL', job)
    freed = freed + count
    backlog = backlog - 1
  end
end
if freed > 0 then
  redis.call('DECRBY', KEYS[5], freed)
  redis.call('PUBLISH', ARGV[7], freed)
end

local most = tonumber(ARGV[2])
local max_bytes = tonumber(ARGV[4])
local out = { 0 }
local taken = 0
local function read(id)
  local job = prefix .. id
  if redis.call('TYPE', job).ok ~= 'hash' then
    redis.call('LREM', KEYS[3], 1, id)
    return
  end
  local fields = redis.call('HMGET', job, 'data', 'slpos', 'slcount')
  local data = fields[1]
  local first = tonumber(fields[2])
  local count = tonumber(fields[3])
  local why = ''
  if not data then
    data = ''
    why = 'the job has no data'
  elseif #data > max_bytes then
    why = 'the job data is ' .. #data .. ' bytes, over the limit of ' .. max_bytes
    data = string.sub(data, 1, tonumber(ARGV[5]))
  end
  if not first or not count then
    count = 1
    if why == '' then
      local n = tonumber(string.match(data, '^{"n":([1-9]%d?%d?%d?),"m":%['))
      if n and n <= ${MESSAGES_PER_JOB} then
        count = n
      else
        local ok, decoded = pcall(cjson.decode, data)
        if ok and type(decoded) == 'table' and type(decoded.m) == 'table' and #decoded.m > 0 then count = #decoded.m end
      end
    end
    if not first then
      if redis.call('ZREM', KEYS[6], id .. ':' .. count) == 0 then redis.call('INCRBY', KEYS[5], count) end
      first = redis.call('INCRBY', KEYS[4], count) - count
      redis.call('HSET', job, 'slpos', first)
    end
    redis.call('HSET', job, 'slcount', count)
  end
  out[#out + 1] = id
  out[#out + 1] = first
  out[#out + 1] = count
  out[#out + 1] = data
  out[#out + 1] = why
  taken = taken + 1
end

if most > 0 then
  local ids = redis.call('LRANGE', KEYS[3], -(most + held_count), -1)
  for i = #ids, 1, -1 do
    if taken < most and not held[ids[i]] then read(ids[i]) end
  end
  if backlog <= most + held_count then
    while taken < most do
      local id = redis.call('RPOPLPUSH', KEYS[2], KEYS[3])
      if not id then break end
      read(id)
    end
  end
end
out[1] = redis.call('LLEN', KEYS[2])
return out
`;
