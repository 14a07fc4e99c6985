import { randomBytes } from 'node:crypto';
import { connect, headers } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_POSITION, silentLogger, type EnqueueOptions } from '../../src/index.ts';
import { RecordingHandler, waitFor } from '../../src/testing/index.ts';
import { COUNT_HEADER, TOTAL_HEADER } from './batch-codec.ts';
import { NatsTransport } from './index.ts';
import { Names } from './names.ts';
import { natsAvailable, startNatsServer, type NatsServer } from './nats-server.ts';

let server: NatsServer | undefined;
beforeAll(async () => {
  if (natsAvailable()) server = await startNatsServer();
});
afterAll(async () => {
  await server?.stop();
});

const block: EnqueueOptions = { overflow: 'block', timeoutMs: 5_000, reserve: 0 };
const messages = (tag: string, count: number) => Array.from({ length: count }, (_, i) => ({ key: 'k', value: `${tag}${i}` }));

describe.skipIf(!natsAvailable())('nats positions', () => {
  const transports: NatsTransport[] = [];
  const open = () => {
    const options = { servers: server!.url, prefix: `p${randomBytes(4).toString('hex')}`, shards: 2, capacity: 16, leaseTtlMs: 1_000, storage: 'memory' as const };
    return (count: number) => {
      const made = Array.from({ length: count }, () => new NatsTransport(options, { domain: 'positions', logger: silentLogger }));
      transports.push(...made);
      return { made, names: new Names(options.prefix, 'positions') };
    };
  };
  afterAll(async () => {
    await Promise.all(transports.map((transport) => transport.close()));
  });

  it('are dense per shard from 0, whatever the other shards carry, and go on after the queue emptied', async () => {
    const { made: [producer, owner] } = open()(2);
    await producer!.enqueue(1, messages('other', 5), block);
    await producer!.enqueue(0, messages('a', 2), block);
    await producer!.enqueue(0, messages('b', 1), block);
    const handler = new RecordingHandler('owner');
    await owner!.consume(handler);
    await waitFor('3 messages of shard 0 acknowledged', () => handler.log(0).acknowledged.length === 3, 10_000);
    await waitFor('shard 0 emptied', async () => (await producer!.depth(0)) === 0, 10_000);
    await producer!.enqueue(0, messages('c', 2), block);
    await waitFor('5 messages of shard 0 acknowledged', () => handler.log(0).acknowledged.length === 5, 10_000);
    expect(handler.log(0).acknowledged.map((d) => [d.value, d.position])).toEqual([['a0', 0], ['a1', 1], ['b0', 2], ['c0', 3], ['c1', 4]]);
    expect(handler.log(1).acknowledged.map((d) => d.position)).toEqual([0, 1, 2, 3, 4]);
  });

  it(`reach MAX_POSITION (2^37 - 1) exactly, then refuse the enqueue that would pass it, appending nothing`, async () => {
    const { made: [producer, owner], names } = open()(2);
    await producer!.connect();
    // A shard that has carried MAX_POSITION - 1 commands: its marker, as the owner would leave it.
    const nc = await connect({ servers: server!.url });
    const h = headers();
    h.set(COUNT_HEADER, '0');
    h.set(TOTAL_HEADER, String(MAX_POSITION - 1));
    await nc.jetstream().publish(names.shard(0), new Uint8Array(0), { headers: h });
    await nc.close();

    await producer!.enqueue(0, messages('last', 2), block);
    await expect(producer!.enqueue(0, messages('over', 1), block)).rejects.toMatchObject({ code: 'POSITIONS_EXHAUSTED' });
    expect(await producer!.depth(0)).toBe(2);
    const handler = new RecordingHandler('owner');
    await owner!.consume(handler);
    await waitFor('the 2 last messages acknowledged', () => handler.log(0).acknowledged.length === 2, 10_000);
    expect(handler.log(0).acknowledged.map((d) => d.position)).toEqual([MAX_POSITION - 1, MAX_POSITION]);
  });
});
