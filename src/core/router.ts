/**
 * Key → shard routing. `murmur2` is the exact function of Kafka's Java client
 * (`org.apache.kafka.common.utils.Utils.murmur2`) and `shardOf` is its default
 * partitioner for keyed records, so shard n of shardline is partition n of Kafka.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

const encoder = new TextEncoder();
/** Reused for ASCII keys up to 1 KiB, so routing them does not allocate. */
const scratch = new Uint8Array(1024);

/** Kafka's murmur2 of the given bytes, as a signed 32-bit integer (as Java returns it). */
export function murmur2(data: Uint8Array, length = data.length): number {
  let h = SEED ^ length;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = data[i4]! | (data[i4 + 1]! << 8) | (data[i4 + 2]! << 16) | (data[i4 + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const tail = length & ~3;
  switch (length & 3) {
    case 3:
      h ^= data[tail + 2]! << 16;
    // falls through
    case 2:
      h ^= data[tail + 1]! << 8;
    // falls through
    case 1:
      h ^= data[tail]!;
      h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** The shard of an entity key: `toPositive(murmur2(utf8(key))) % shardCount`, as Kafka does. */
export function shardOf(key: string, shardCount: number): number {
  if (!Number.isInteger(shardCount) || shardCount < 1) {
    throw new RangeError(`Expected shardCount to be an integer >= 1, got ${String(shardCount)}`);
  }
  const bytes = key.length <= scratch.length ? asciiIntoScratch(key) : -1;
  if (bytes >= 0) return (murmur2(scratch, bytes) & 0x7fffffff) % shardCount;
  return (murmur2(encoder.encode(key)) & 0x7fffffff) % shardCount;
}

/** Copies an ASCII key into the scratch buffer (its UTF-8 bytes); -1 when it is not ASCII. */
function asciiIntoScratch(key: string): number {
  for (let i = 0; i < key.length; i++) {
    const code = key.charCodeAt(i);
    if (code > 0x7f) return -1;
    scratch[i] = code;
  }
  return key.length;
}

/**
 * Rendezvous hashing: the member with the highest murmur2 of `member/shard` owns the
 * shard (ties go to the smaller name). Every process computes it from the same member
 * list, so they agree without talking, and a join or leave moves only the shards the
 * joiner wins or the leaver held. Transports that pick owners themselves share it.
 */
export function pickOwner(members: readonly string[], shard: number): string | undefined {
  let best: string | undefined;
  let bestScore = -1;
  for (const member of members) {
    const score = murmur2(Buffer.from(`${member}/${shard}`)) >>> 0;
    if (score > bestScore || (score === bestScore && best !== undefined && member < best)) {
      bestScore = score;
      best = member;
    }
  }
  return best;
}
