// 1,000 concurrent requests against one shard of capacity 16 whose owner is paused until
// 100 requests were refused: the gateway answers each with 202 or 429 (nothing else, nothing held for long),
// every 202 is applied exactly once, no 429 is ever applied, and the totals add up. Run on
// the memory transport and on BullMQ with a real redis-server.
import { afterAll, describe, expect, it } from 'vitest';
import { Gateway } from '../../src/gateway/gateway.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';
import { waitFor } from '../../src/testing/recording-handler.ts';
import { BullmqTransport } from '../../src/transports/bullmq/bullmq-transport.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import type { Transport } from '../../src/transports/transport.ts';
import { startRedis, type RedisService } from '../support/redis.ts';
import { keysOnShard, tallies } from './support/fixture.ts';

const redis = await startRedis();
const REQUESTS = 1_000;
const CAPACITY = 16;
const SHARDS = 2;
/** The owner stays paused until this many requests were answered 429. */
const REFUSED_BEFORE_OWNER = 100;

/** Fires every request at once; starts the owner once {@link REFUSED_BEFORE_OWNER} 429s came back. */
async function burst(url: string, startOwner: () => void): Promise<{ accepted: number[]; refused: number[]; other: string[]; ms: number }> {
  const keys = keysOnShard(0, SHARDS, 10);
  const accepted: number[] = [];
  const refused: number[] = [];
  const other: string[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: REQUESTS }, async (_, tag) => {
      const response = await fetch(`${url}/v1/tallies/add/${keys[tag % keys.length]}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ tag }),
        signal: AbortSignal.timeout(120_000),
      });
      const body = (await response.json()) as { error?: { code: string } };
      if (response.status === 202) accepted.push(tag);
      else if (response.status === 429 && response.headers.get('retry-after') === '1' && body.error?.code === 'QUEUE_FULL') {
        refused.push(tag);
        if (refused.length >= REFUSED_BEFORE_OWNER) startOwner();
      } else other.push(`${tag}: ${response.status} ${JSON.stringify(body)}`);
    }),
  );
  return { accepted, refused, other, ms: Math.round(performance.now() - started) };
}

/** Waits until the owner applied at least `count` tags and the shard is empty, then returns every tag applied. */
async function settle(store: MemoryStateStore, transport: Transport, count: number): Promise<number[]> {
  const tags = async (): Promise<number[]> => {
    const all: number[] = [];
    for await (const [, state] of store.entries()) all.push(...(state as { tags: number[] }).tags);
    return all;
  };
  await waitFor(`${count} commands applied and shard 0 empty`, async () => (await tags()).length >= count && (await transport.depth(0)) === 0, 30_000);
  return (await tags()).sort((a, b) => a - b);
}

async function check(name: string, producerTransport: Transport, ownerTransport: Transport): Promise<void> {
  const store = new MemoryStateStore();
  const owner = new Owner({ domain: tallies, transport: ownerTransport, store });
  const gateway = new Gateway({ port: 0, queueWaitMs: 100, domains: [{ domain: tallies, transport: producerTransport }] });
  const port = await gateway.listen();
  let ownerStarted: Promise<void> | undefined;
  try {
    const { accepted, refused, other, ms } = await burst(`http://127.0.0.1:${port}`, () => {
      ownerStarted ??= owner.start();
    });
    expect(other).toEqual([]);
    expect(accepted.length + refused.length).toBe(REQUESTS);
    expect(refused.length).toBeGreaterThanOrEqual(REFUSED_BEFORE_OWNER);
    expect(accepted.length).toBeGreaterThanOrEqual(CAPACITY - CAPACITY / 8);
    await ownerStarted;
    const applied = await settle(store, ownerTransport, accepted.length);
    expect(applied).toEqual([...accepted].sort((a, b) => a - b));
    console.log(`${name}: ${REQUESTS} concurrent requests in ${ms} ms: ${accepted.length} × 202 (each applied once), ${refused.length} × 429 (none applied)`);
  } finally {
    await gateway.close();
    await owner.close();
  }
}

describe('gateway backpressure', () => {
  it('memory: 1,000 concurrent requests on one shard of capacity 16', { timeout: 240_000 }, async () => {
    const transport = new MemoryTransport({ shards: SHARDS, capacity: CAPACITY });
    try {
      await check('memory', transport, transport);
    } finally {
      await transport.close();
    }
  });

  describe.skipIf(redis === undefined)('bullmq', () => {
    const service = redis as RedisService;
    afterAll(() => service.close());

    it('bullmq: 1,000 concurrent requests on one shard of capacity 16', { timeout: 240_000 }, async () => {
      const options = { url: service.url, domain: 'tallies', prefix: 'gw-burst', shards: SHARDS, capacity: CAPACITY, leaseTtlMs: 1_000 };
      const producerTransport = new BullmqTransport(options);
      const ownerTransport = new BullmqTransport(options);
      try {
        await check('bullmq', producerTransport, ownerTransport);
      } finally {
        await producerTransport.close();
        await ownerTransport.close();
      }
    });
  });
});
