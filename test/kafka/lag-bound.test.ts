import { describe, expect, it } from 'vitest';
import { LagBound } from '../../src/transports/kafka/lag-bound.ts';

/** A partition as Kafka would show it: appends raise the end offset, the owner commits. */
class FakePartition {
  end = 0;
  committed = 0;
  /** Offsets are read as of this call, as a broker answers a ListOffsets/OffsetFetch pair. */
  sampleLag = async (): Promise<number[]> => {
    const lag = this.end - this.committed;
    await new Promise((resolve) => setTimeout(resolve, 1));
    return [lag];
  };
}

function bound(partition: FakePartition, capacity: number, trustedFill = 0.5): LagBound {
  return new LagBound({ shards: 1, capacity, trustedFill, sampleIntervalMs: 20, sampleLag: partition.sampleLag });
}

const reject = { overflow: 'reject' as const, timeoutMs: 1_000, reserve: 0 };

/** Enqueues batches of `size` with `reject` until refused; returns how many messages were admitted. */
async function fill(b: LagBound, partition: FakePartition, size: number): Promise<number> {
  let admitted = 0;
  for (;;) {
    try {
      await b.admit(0, size, reject);
    } catch (error) {
      expect((error as { code?: string }).code).toBe('QUEUE_FULL');
      return admitted;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
    partition.end += size;
    b.settled(0, size);
    admitted += size;
  }
}

describe('LagBound (the sampled lag bound of the Kafka transport)', () => {
  it('never lets one producing process take the lag over capacity', async () => {
    const partition = new FakePartition();
    const b = bound(partition, 100);
    expect(await fill(b, partition, 7)).toBe(98);
    expect(partition.end - partition.committed).toBeLessThanOrEqual(100);
    b.close();
  });

  it('overshoots by at most (P − 1) × batch with P processes and trustedFill 1/P, as documented', async () => {
    for (let round = 0; round < 5; round++) {
      const partition = new FakePartition();
      const processes = 4;
      const batch = 3;
      const bounds = Array.from({ length: processes }, () => bound(partition, 60, 1 / processes));
      await Promise.all(bounds.map((b) => fill(b, partition, batch)));
      expect(partition.end).toBeGreaterThanOrEqual(60 - batch);
      expect(partition.end).toBeLessThanOrEqual(60 + (processes - 1) * batch);
      for (const b of bounds) b.close();
    }
  });

  it('keeps the reserve free for enqueues with a smaller one, and force admits beyond capacity', async () => {
    const partition = new FakePartition();
    const b = bound(partition, 10);
    await b.admit(0, 8, { ...reject, reserve: 2 });
    partition.end += 8;
    b.settled(0, 8);
    await expect(b.admit(0, 1, { ...reject, reserve: 2 })).rejects.toMatchObject({ code: 'QUEUE_FULL' });
    await b.admit(0, 2, reject);
    await b.admit(0, 5, { ...reject, overflow: 'force' });
    await expect(b.admit(0, 11, reject)).rejects.toThrow(/can never fit/);
    b.close();
  });

  it('block: waits until the owner commits, and times out with TimeoutError when it does not', async () => {
    const partition = new FakePartition();
    const b = bound(partition, 10);
    await b.admit(0, 10, reject);
    partition.end += 10;
    b.settled(0, 10);
    await expect(b.admit(0, 1, { overflow: 'block', timeoutMs: 100, reserve: 0 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    const waiting = b.admit(0, 4, { overflow: 'block', timeoutMs: 5_000, reserve: 0 });
    setTimeout(() => {
      partition.committed = 6;
    }, 50);
    expect(await waiting).toBeGreaterThan(0);
    expect(await b.depth(0)).toBe(4 + 4);
    b.close();
  });

  it('fails waiting enqueues with ClosedError on close', async () => {
    const partition = new FakePartition();
    const b = bound(partition, 1);
    await b.admit(0, 1, reject);
    partition.end += 1;
    b.settled(0, 1);
    const waiting = b.admit(0, 1, { overflow: 'block', timeoutMs: 5_000, reserve: 0 });
    await new Promise((resolve) => setTimeout(resolve, 30));
    b.close();
    await expect(waiting).rejects.toMatchObject({ code: 'CLOSED' });
  });
});
