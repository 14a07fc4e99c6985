import { createRequire } from 'node:module';
import fc from 'fast-check';
import { Partitioners, type PartitionerArgs } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { murmur2, shardOf } from '../../src/core/router.ts';

const require = createRequire(import.meta.url);
/** kafkajs's own Java-compatible murmur2 (the one its DefaultPartitioner uses). */
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: string | Buffer) => number;

const utf8 = (text: string) => new TextEncoder().encode(text);

/** The partition kafkajs's DefaultPartitioner picks for a keyed message. */
function kafkajsPartition(key: string, partitions: number): number {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({
    partitionErrorCode: 0,
    partitionId,
    leader: 0,
    replicas: [0],
    isr: [0],
  }));
  return partitioner({ topic: 'shardline', partitionMetadata, message: { key, value: null } } as PartitionerArgs);
}

describe('murmur2: Kafka Java client vectors (UtilsTest.testMurmur2)', () => {
  it.each([
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
  ])('murmur2(%j) = %i', (text, expected) => {
    expect(murmur2(utf8(text))).toBe(expected);
  });

  it('murmur2([a, b, c]) = 479470107', () => {
    expect(murmur2(new Uint8Array([0x61, 0x62, 0x63]))).toBe(479470107);
  });

  it('hashes only the first `length` bytes when given a length', () => {
    const buffer = new Uint8Array(64);
    buffer.set(utf8('foobar'));
    expect(murmur2(buffer, 6)).toBe(-790332482);
  });

  it('shardOf is toPositive(murmur2) % shards, as the Java default partitioner', () => {
    expect(shardOf('21', 1)).toBe(0);
    expect(shardOf('foobar', 10)).toBe((-790332482 & 0x7fffffff) % 10);
    expect(shardOf('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', 7)).toBe((-58897971 & 0x7fffffff) % 7);
  });

  it('shardOf refuses a shard count that is not an integer >= 1, naming what it got', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => shardOf('k', bad)).toThrow(RangeError);
      expect(() => shardOf('k', bad)).toThrow(`got ${String(bad)}`);
    }
  });
});

describe('shardOf agrees with kafkajs DefaultPartitioner on random keys', () => {
  // Keys of any Unicode (astral planes, lone surrogates included), and long ones: past
  // 341 UTF-16 units shardOf stops using its scratch buffer and encodes afresh.
  const key = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    fc.string({ unit: fc.constantFrom('\ud800', '\udfff', 'a', '€', '😀'), maxLength: 12 }),
    fc.string({ unit: 'binary-ascii', minLength: 300, maxLength: 1_200 }),
    fc.string({ unit: 'binary', minLength: 330, maxLength: 700 }),
  );

  it('murmur2 of the UTF-8 bytes equals kafkajs murmur2 of the string (3,000 keys)', () => {
    fc.assert(
      fc.property(key, (k) => {
        expect(murmur2(utf8(k))).toBe(kafkajsMurmur2(k));
      }),
      { numRuns: 3_000 },
    );
  });

  it('shardOf(key, n) equals the partition kafkajs picks for n partitions (3,000 keys)', () => {
    fc.assert(
      fc.property(key, fc.integer({ min: 1, max: 1_000 }), (k, partitions) => {
        expect(shardOf(k, partitions)).toBe(kafkajsPartition(k, partitions));
      }),
      { numRuns: 3_000 },
    );
  });

  it('routes the same key to the same shard every time, whatever was routed in between', () => {
    const long = 'ü'.repeat(500);
    const first = shardOf('account-42', 16);
    shardOf(long, 16);
    shardOf('😀'.repeat(100), 16);
    expect(shardOf('account-42', 16)).toBe(first);
    expect(shardOf(long, 16)).toBe(kafkajsPartition(long, 16));
  });
});
