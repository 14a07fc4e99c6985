/**
 * Key → shard routing, and shard → member assignment. `murmur2` is the exact function of
 * Kafka's Java client (`org.apache.kafka.common.utils.Utils.murmur2`) and `shardOf` is its
 * default partitioner for keyed records, so shard n of shardline is partition n of Kafka.
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

/** How strongly `member` wants `shard`: the rendezvous score, murmur2 of `member/shard`. */
function score(member: string, shard: number): number {
  return murmur2(Buffer.from(`${member}/${shard}`)) >>> 0;
}

/**
 * Which member owns each shard: rendezvous hashing with capped loads. Every member gets
 * ⌊S/N⌋ or ⌈S/N⌉ of the S shards when N ≤ S (one or none when N > S), so a joiner is
 * never left empty. Pairs (member, shard) are taken in descending order of their
 * rendezvous score (ties: smaller member, then smaller shard), and a shard goes to the
 * first member of its pairs that still has room; at most `S mod N` members may take the
 * extra shard. So a shard stays with the member that ranks it highest whenever that
 * member is not full of shards it ranks even higher, and a join or leave moves mostly the
 * shards the joiner takes or the leaver held (`test/core/shard-assignment.property.test.ts`).
 *
 * Every process computes the same answer from the same member set, in any order, without
 * talking. `undefined` for every shard when there are no members.
 */
export function assignShards(members: readonly string[], shardCount: number): (string | undefined)[] {
  if (!Number.isInteger(shardCount) || shardCount < 1) {
    throw new RangeError(`Expected shardCount to be an integer >= 1, got ${String(shardCount)}`);
  }
  const owners = new Array<string | undefined>(shardCount).fill(undefined);
  const unique = [...new Set(members)].sort();
  if (unique.length === 0) return owners;
  const floor = Math.floor(shardCount / unique.length);
  const extra = shardCount % unique.length;
  const pairs: { score: number; member: number; shard: number }[] = [];
  unique.forEach((member, index) => {
    for (let shard = 0; shard < shardCount; shard++) pairs.push({ score: score(member, shard), member: index, shard });
  });
  pairs.sort((a, b) => b.score - a.score || a.member - b.member || a.shard - b.shard);
  const loads = new Array<number>(unique.length).fill(0);
  let withExtra = 0;
  let left = shardCount;
  for (const { member, shard } of pairs) {
    if (owners[shard] !== undefined) continue;
    const load = loads[member]!;
    if (load > floor || (load === floor && withExtra === extra)) continue;
    owners[shard] = unique[member];
    loads[member] = load + 1;
    if (load === floor) withExtra++;
    if (--left === 0) break;
  }
  return owners;
}

let lastAssignment: { key: string; owners: (string | undefined)[] } | undefined;

/**
 * The owner of one shard under {@link assignShards}. Transports that ask shard by shard
 * in a loop get the whole assignment computed once per member set.
 */
export function pickOwner(members: readonly string[], shard: number, shardCount: number): string | undefined {
  const key = JSON.stringify([shardCount, [...new Set(members)].sort()]);
  if (lastAssignment?.key !== key) lastAssignment = { key, owners: assignShards(members, shardCount) };
  return lastAssignment.owners[shard];
}
