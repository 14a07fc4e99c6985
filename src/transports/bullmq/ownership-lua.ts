// The Lua scripts of shard ownership: membership, leases and the grant record that
// `owners()` reads. Each checks what could make a call raise before its first write, and
// each is safe to run again after a lost reply.

/**
 * heartbeat — records this member as alive (or gone) with where it runs, forgets expired
 * members and what they said about themselves, lists the rest.
 * KEYS[1] members sorted set (score = expiry, Redis time in ms)
 * KEYS[2] member info hash (member id → '{"host":…,"pid":…}')
 * ARGV[1] member id  ARGV[2] ttl ms  ARGV[3] '1' to leave  ARGV[4] this member's info (JSON)
 * Returns the live member ids.
 */
export const HEARTBEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
local info = redis.call('TYPE', KEYS[2]).ok
if info ~= 'hash' and info ~= 'none' then
  return redis.error_reply('ERR shardline: expected a hash at ' .. KEYS[2] .. ', got a ' .. info .. '; nothing was changed')
end
for i = 1, #expired do redis.call('HDEL', KEYS[2], expired[i]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if ARGV[3] == '1' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
end
return redis.call('ZRANGE', KEYS[1], 0, -1)
`;

/**
 * acquire — takes the leases of shards that are free, or still held by this member for a
 * grant it no longer runs (an earlier acquire whose reply was lost, a runner stopped when
 * its lease ran out locally); each grant gets the shard's next epoch and is recorded, with
 * Redis's time, for inspection.
 * KEYS lease1, epoch counter1, grant hash1, lease2, ...
 * ARGV[1] member id  ARGV[2] ttl ms
 * Returns, per shard, the new epoch (the lease then holds 'member:epoch') or 0 when another member holds it.
 */
export const ACQUIRE = `
for i = 1, #KEYS, 3 do
  redis.call('GET', KEYS[i])
  local epoch = redis.call('GET', KEYS[i + 1])
  if epoch and not tonumber(epoch) then
    return redis.error_reply('ERR shardline: expected an integer at ' .. KEYS[i + 1] .. '; nothing was changed')
  end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local mine = ARGV[1] .. ':'
local out = {}
for i = 1, #KEYS, 3 do
  local current = redis.call('GET', KEYS[i])
  if current and string.sub(current, 1, #mine) ~= mine then
    out[#out + 1] = 0
  else
    local epoch = redis.call('INCR', KEYS[i + 1])
    redis.call('SET', KEYS[i], mine .. epoch, 'PX', ARGV[2])
    redis.call('DEL', KEYS[i + 2])
    redis.call('HSET', KEYS[i + 2], 'member', ARGV[1], 'epoch', epoch, 'since', now)
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
export const RENEW = `
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
export const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;
