import { describe, expect, it } from 'vitest';
import { QueueFullError } from '../../src/core/errors.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';
import type { MemoryBroker } from '../../src/transports/memory/memory-broker.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import { closedAfterEach, entries, keysOnShard, lists, processOn, quiesce } from '../core/helpers.ts';

const closers = closedAfterEach();
const [KEY] = keysOnShard(0, 1, 1, 'list-') as [string];

/** The items each message held in shard 0's ring of `broker` carries, oldest first. */
function queued(broker: MemoryBroker): string[] {
  const ring = broker.queues[0]!.ring;
  return ring.peek(0, ring.size).map((delivery) => (delivery.command!.payload as { item: string }).item);
}

async function producerOn(transport: MemoryTransport, overflow: 'block' | 'reject' = 'block') {
  const producer = new Producer({ domain: lists, transport, followUpReserve: 0, overflow });
  closers.push(() => producer.close());
  await producer.connect();
  return producer;
}

describe('the memory transport admits a send with room at once', () => {
  it('holds the command before send() returns, and resolves with its receipt', async () => {
    const transport = new MemoryTransport({ shards: 1, capacity: 4 });
    closers.push(() => transport.close());
    const producer = await producerOn(transport);
    const sent = producer.send('append', KEY, { item: 'a' });
    expect(queued(transport.broker)).toEqual(['a']);
    expect(await sent).toMatchObject({ shard: 0, seq: 0 });
  });

  it('keeps a send behind an earlier one of the same producer that waits for room', async () => {
    const transport = new MemoryTransport({ shards: 1, capacity: 2 });
    closers.push(() => transport.close());
    const producer = await producerOn(transport);
    await producer.send('append', KEY, { item: 'a' });
    await producer.send('append', KEY, { item: 'b' });
    const waiting = [producer.send('append', KEY, { item: 'c' }), producer.send('append', KEY, { item: 'd' })];
    expect(queued(transport.broker)).toEqual(['a', 'b']);

    const owner = new Owner({ domain: lists, transport, store: new MemoryStateStore() });
    closers.push(() => owner.close());
    await owner.start();
    await Promise.all(waiting);
    await quiesce(transport, 1);
    expect((await entries<{ items: string[] }>(owner.store)).get(KEY)?.items).toEqual(['a', 'b', 'c', 'd']);
  });

  it('does not pass another producer that waits for room, even where its own command would fit', async () => {
    const broker = MemoryTransport.broker({ shards: 1, capacity: 3 });
    const first = await producerOn(processOn(broker, closers));
    const second = await producerOn(processOn(broker, closers));
    await first.send('append', KEY, { item: 'a' });
    await first.send('append', KEY, { item: 'b' });
    // Two more do not fit in the one slot left: they wait. One from the other producer would fit, and waits behind them.
    const pair = first.sendMany([
      { type: 'append', key: KEY, payload: { item: 'c' } },
      { type: 'append', key: KEY, payload: { item: 'd' } },
    ]);
    await new Promise((resolve) => setImmediate(resolve));
    const single = second.send('append', KEY, { item: 'e' });
    const queue = broker.queues[0]!;
    expect(queue.ring.size).toBe(2);

    queue.ack(queue.ring.peek(0, 2)[1]!.position);
    await Promise.all([pair, single]);
    expect(queued(broker)).toEqual(['c', 'd', 'e']);
  });

  it('refuses a send to a full shard with QueueFullError under overflow reject, enqueuing nothing', async () => {
    const transport = new MemoryTransport({ shards: 1, capacity: 1 });
    closers.push(() => transport.close());
    const producer = await producerOn(transport, 'reject');
    await producer.send('append', KEY, { item: 'a' });
    await expect(producer.send('append', KEY, { item: 'b' })).rejects.toBeInstanceOf(QueueFullError);
    expect(queued(transport.broker)).toEqual(['a']);
  });
});
