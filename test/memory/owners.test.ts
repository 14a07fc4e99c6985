import { hostname } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { RecordingHandler, waitFor } from '../../src/testing/index.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';

const transports: MemoryTransport[] = [];
afterEach(async () => {
  await Promise.all(transports.splice(0).map((transport) => transport.close()));
});

describe('memory transport owners()', () => {
  it('reports each shard\'s subscription with pid, host, epoch and since, and none where no one holds it', async () => {
    const broker = MemoryTransport.broker({ shards: 4, capacity: 8 });
    const [reader, a, b] = [0, 1, 2].map(() => new MemoryTransport({ broker }));
    transports.push(reader!, a!, b!);
    expect(await reader!.owners()).toEqual([undefined, undefined, undefined, undefined]);

    const before = Date.now();
    const first = new RecordingHandler('a');
    await a!.consume(first);
    await waitFor('a owning every shard', () => first.owned().length === 4, 5_000);
    const second = new RecordingHandler('b');
    await b!.consume(second);
    await waitFor('b owning two shards', () => second.owned().length === 2 && first.owned().length === 2, 5_000);

    const owners = await reader!.owners();
    expect(new Set(owners.map((owner) => owner?.member)).size).toBe(2);
    owners.forEach((owner, shard) => {
      const holder = first.owned().includes(shard) ? first : second;
      expect(owner).toMatchObject({ pid: process.pid, host: hostname(), epoch: holder.log(shard).current!.epoch });
      expect(owner!.since).toBeGreaterThanOrEqual(before);
      expect(owner!.since).toBeLessThanOrEqual(Date.now());
    });

    await a!.close();
    await waitFor('b owning every shard', () => second.owned().length === 4, 5_000);
    expect(new Set((await reader!.owners()).map((owner) => owner?.member)).size).toBe(1);
  });
});
