import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignShards, murmur2, pickOwner } from '../../src/core/router.ts';

const memberIds = (min: number, max: number) => fc.uniqueArray(fc.string({ minLength: 1, maxLength: 20 }), { minLength: min, maxLength: max });
const shardCounts = fc.integer({ min: 1, max: 64 });
const score = (member: string, shard: number) => murmur2(Buffer.from(`${member}/${shard}`)) >>> 0;
/** Whether pair (a, shardA) comes before pair (b, shardB) in the assignment's order. */
const before = (a: string, shardA: number, b: string, shardB: number) =>
  score(a, shardA) > score(b, shardB) || (score(a, shardA) === score(b, shardB) && (a < b || (a === b && shardA < shardB)));

function loads(owners: readonly (string | undefined)[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const member of owners) if (member !== undefined) counts.set(member, (counts.get(member) ?? 0) + 1);
  return counts;
}

/** Member ids shaped like the transports' (`pid-random hex`), the same on every run. */
function fixedIds(seed: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${4000 + ((seed * 7919 + i * 104_729) % 5000)}-${((seed * 2_654_435_761 + i * 40_503) >>> 0).toString(16)}`);
}

describe('assignShards: rendezvous hashing with capped loads', () => {
  it('gives every member ⌊S/N⌋ or ⌈S/N⌉ shards when N ≤ S, and every shard an owner from the list', () => {
    fc.assert(
      fc.property(memberIds(1, 24), shardCounts, (members, shardCount) => {
        const owners = assignShards(members, shardCount);
        expect(owners).toHaveLength(shardCount);
        for (const owner of owners) expect(members).toContain(owner);
        const counts = loads(owners);
        const low = members.length <= shardCount ? Math.floor(shardCount / members.length) : 0;
        const high = Math.ceil(shardCount / members.length);
        for (const member of members) {
          expect(counts.get(member) ?? 0).toBeGreaterThanOrEqual(low);
          expect(counts.get(member) ?? 0).toBeLessThanOrEqual(high);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('is the same for the same member set, whatever its order or repeats', () => {
    fc.assert(
      fc.property(memberIds(1, 12), shardCounts, fc.integer(), (members, shardCount, seed) => {
        const shuffled = [...members, ...members.slice(0, 2)].sort((a, b) => (score(a, seed) - score(b, seed)) || (a < b ? -1 : 1));
        const owners = assignShards(members, shardCount);
        expect(assignShards(shuffled, shardCount)).toEqual(owners);
        for (let shard = 0; shard < shardCount; shard++) expect(pickOwner(shuffled, shard, shardCount)).toBe(owners[shard]);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps rendezvous preference: a member that outranks a shard\'s owner is full of shards it ranks higher', () => {
    fc.assert(
      fc.property(memberIds(1, 12), shardCounts, (members, shardCount) => {
        const owners = assignShards(members, shardCount);
        const counts = loads(owners);
        const floor = Math.floor(shardCount / members.length);
        owners.forEach((owner, shard) => {
          for (const member of members) {
            if (member === owner || !before(member, shard, owner!, shard)) continue;
            // `member` ranks `shard` above its owner does: it must have been full when it got there.
            expect(counts.get(member) ?? 0).toBeGreaterThanOrEqual(floor);
            owners.forEach((held, other) => {
              if (held === member) expect(before(member, other, member, shard)).toBe(true);
            });
          }
        });
      }),
      { numRuns: 300 },
    );
  });

  it('a join or a leave moves at most 1.5 times the shards that must move (the joiner\'s, the leaver\'s)', () => {
    for (const shardCount of [4, 8, 16, 32, 64]) {
      let moved = 0;
      let minimum = 0;
      for (let n = 1; n < Math.min(shardCount, 16); n++) {
        for (let seed = 0; seed < 30; seed++) {
          const members = fixedIds(seed * 100 + n, n + 1);
          const small = assignShards(members.slice(0, n), shardCount);
          const joined = assignShards(members, shardCount);
          moved += small.filter((owner, shard) => joined[shard] !== owner).length;
          minimum += joined.filter((owner) => owner === members[n]).length;
          if (n === 1) continue;
          const left = assignShards(members.slice(1, n), shardCount);
          moved += small.filter((owner, shard) => left[shard] !== owner).length;
          minimum += small.filter((owner) => owner === members[0]).length;
        }
      }
      expect(moved / minimum, `${shardCount} shards: ${moved} moved, ${minimum} had to`).toBeLessThanOrEqual(1.5);
    }
  });

  it('a joiner always gets a shard while members are no more than shards (the old hashing left one empty 1 time in 2^S)', () => {
    for (let seed = 0; seed < 500; seed++) {
      const members = fixedIds(seed, 2);
      expect(assignShards(members, 4)).toContain(members[1]);
    }
  });

  it('refuses a shard count that is not a positive integer', () => {
    expect(() => assignShards(['a'], 0)).toThrow('Expected shardCount to be an integer >= 1, got 0');
    expect(() => assignShards(['a'], 2.5)).toThrow('got 2.5');
  });
});
