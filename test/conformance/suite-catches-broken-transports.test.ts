import { afterAll, describe, expect, it } from 'vitest';
import { MemoryBroker } from '../../src/transports/memory/memory-broker.ts';
import { MEMORY_DEFAULTS } from '../../src/transports/memory/memory-transport.ts';
import { ConformanceError, checkTimeoutMs, conformanceCheck, runConformanceCheck, type ConformanceOptions } from '../../src/testing/index.ts';
import {
  BlockIgnoresReserve,
  BlockNeverTimesOut,
  CloseLeavesLeases,
  DeliversAfterStaleEpoch,
  DeliversBeforeAssigned,
  DepthIgnoresAcks,
  DepthSampledUndeclared,
  GrantsMidBatch,
  IgnoresRefusedAssigned,
  LeaksSocket,
  LeaksTimer,
  NowIgnoresReserve,
  NowPassesWaiters,
  OversizedWaits,
  PartialEnqueue,
  PositionsPastLimit,
  PositionsWrap,
  RedeliversLate,
  type Decorated,
} from './broken-transports.ts';

afterAll(async () => {
  for (const timer of LeaksTimer.leaked.splice(0)) clearInterval(timer);
  await Promise.all(LeaksSocket.leaked.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

/** Each check gets a fresh broker, as the memory suite does; `broker` overrides its options. */
function options(make: (broker: MemoryBroker) => Decorated, broker: Partial<typeof MEMORY_DEFAULTS> = {}): ConformanceOptions {
  return {
    name: 'broken',
    async setup() {
      const shared = new MemoryBroker({ ...MEMORY_DEFAULTS, shards: 4, capacity: 16, maxBatch: 8, revokeTimeoutMs: 200, retryDelayMs: 20, ...broker });
      return { create: () => make(shared) };
    },
    handOverTimeoutMs: 2_000,
    closeHandOverTimeoutMs: 1_000,
    shortWaitMs: 100,
  };
}

/** Runs one check against a broken transport; resolves with the ConformanceError it must throw. */
async function failure(conformance: ConformanceOptions, check: string): Promise<ConformanceError> {
  const started = performance.now();
  try {
    await runConformanceCheck(conformance, check);
  } catch (error) {
    expect(error).toBeInstanceOf(ConformanceError);
    expect((error as ConformanceError).check).toBe(check);
    expect(performance.now() - started).toBeLessThan(checkTimeoutMs(conformance, conformanceCheck(check)));
    return error as ConformanceError;
  }
  throw new Error(`the suite passed a transport that breaks "${check}"`);
}

describe('the conformance suite fails a transport that breaks one guarantee', () => {
  it('a rejected batch redelivered after newer messages of the shard: redelivery-first', async () => {
    const error = await failure(options((b) => new RedeliversLate(b)), 'redelivery-first');
    expect(error.message).toMatch(/expected the rejected batch to be delivered again first, starting at position 0, got a batch starting at position 8/);
  });

  it('reserve ignored in block mode: reserve', async () => {
    const error = await failure(options((b) => new BlockIgnoresReserve(b)), 'reserve');
    expect(error.message).toMatch(/expected block with reserve 4 to wait \(and time out\) once 12 of capacity 16 are held, got 16 held: 4 more admitted by block, eating into the reserve/);
  });

  it('enqueueNow ignoring the reserve: enqueue-now', async () => {
    const error = await failure(options((b) => new NowIgnoresReserve(b)), 'enqueue-now');
    expect(error.message).toMatch(/expected enqueueNow with reserve 4 to admit 12 of capacity 16, then return false, got 16 admitted/);
  });

  it('enqueueNow admitting ahead of a producer that waits for room: enqueue-now', async () => {
    const error = await failure(options((b) => new NowPassesWaiters(b)), 'enqueue-now');
    expect(error.message).toMatch(/expected enqueueNow to return false while another producer waits for room, even where its message fits \(3 free\), got it admitted the message ahead of the waiting producer/);
  });

  it('a batch larger than capacity - reserve that waits out its timeout: oversized-batch', async () => {
    const error = await failure(options((b) => new OversizedWaits(b)), 'oversized-batch');
    expect(error.message).toMatch(/expected a block enqueue of 17 messages with reserve 0 into an empty shard of capacity 16 to fail with code QUEUE_FULL, got TimeoutError \(TIMEOUT\)/);
  });

  it('an enqueue that is not all or none: all-or-none', async () => {
    const error = await failure(options((b) => new PartialEnqueue(b)), 'all-or-none');
    expect(error.message).toMatch(/of them 0:refused-0, 0:refused-1 from the refused batches/);
  });

  it('a claim that takes the shard of a holder alive and mid-batch, who lets go a moment later: hand-over', async () => {
    const error = await failure(options((b) => new GrantsMidBatch(b), { revokeTimeoutMs: 1 }), 'hand-over');
    expect(error.message).toMatch(/shard \d: b#2 was granted it \(epoch \d+\) at \d+ ms while a#1 still held its grant \(epoch \d+, since \d+ ms, mid-batch\)/);
  });

  it('positions past MAX_POSITION: long-run-positions', async () => {
    const error = await failure(options((b) => new PositionsPastLimit(b)), 'long-run-positions');
    expect(error.message).toMatch(/expected positions to be integers in 0\.\.137438953471 \(2\^37 - 1\), got 137438953472/);
  });

  it('positions that stop growing late in a shard\'s life (after 512 messages): long-run-positions', async () => {
    const error = await failure(options((b) => new PositionsWrap(b)), 'long-run-positions');
    expect(error.message).toMatch(/expected positions after the acknowledged 511, got 0/);
  });

  it('close() that leaves ownership to expire: close-hand-over', async () => {
    const error = await failure(options((b) => new CloseLeavesLeases(b)), 'close-hand-over');
    expect(error.message).toMatch(/expected b owning every shard within 1000 ms of a's close\(\) within 1000 ms, got a owns \[\], b owns \[[\d, ]+\] after \d+ ms/);
  });

  it('close() that leaks a timer: close-releases', async () => {
    const error = await failure(options((b) => new LeaksTimer(b)), 'close-releases');
    expect(error.message).toMatch(/got 1 Timeout \(created at .*broken-transports.ts.*\) still open after close\(\)/);
  });

  it('close() that leaks a socket: close-releases', async () => {
    const error = await failure(options((b) => new LeaksSocket(b)), 'close-releases');
    expect(error.message).toMatch(/got 1 TCPSERVERWRAP still open after close\(\)/);
  });

  it('deliveries to a grant fenced with STALE_EPOCH: stale-epoch', async () => {
    const error = await failure(options((b) => new DeliversAfterStaleEpoch(b)), 'stale-epoch');
    expect(error.message).toMatch(/deliver\(\) was called after a deliver\(\) of the grant rejected with STALE_EPOCH/);
  });

  it('a rejected assigned() ignored: refused-assigned', async () => {
    const error = await failure(options((b) => new IgnoresRefusedAssigned(b)), 'refused-assigned');
    expect(error.message).toMatch(/deliver\(\) was called for a grant whose assigned\(\) rejected/);
  });

  it('deliver() before assigned() resolved: assigned-first', async () => {
    const error = await failure(options((b) => new DeliversBeforeAssigned(b)), 'assigned-first');
    expect(error.message).toMatch(/deliver\(\) was called before assigned\(\) resolved/);
  });

  it('depth() that acknowledgements do not lower: depth', async () => {
    const error = await failure(options((b) => new DepthIgnoresAcks(b)), 'depth');
    expect(error.message).toMatch(/expected depth\(0\) 0 once every message was acknowledged, read by the producer within \d+ ms, got a depth above 0/);
  });

  it('depth() sampled without declaring approximateDepth: depth', async () => {
    const error = await failure(options((b) => new DepthSampledUndeclared(b)), 'depth');
    expect(error.message).toMatch(/expected depth\(0\) 8 once 8 messages were enqueued \(the transport does not declare approximateDepth\), got 0/);
  });

  it('a block enqueue that never times out fails the check within its own bound, naming it: block', async () => {
    const error = await failure(options((b) => new BlockNeverTimesOut(b)), 'block');
    expect(error.message).toMatch(/conformance check "block" failed: enqueue\(shard 0, 1 messages, block, timeoutMs 100, reserve 0\) did not settle within 2100 ms/);
  });
});
