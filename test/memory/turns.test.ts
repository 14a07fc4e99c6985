/**
 * Producers and owners on one memory broker hand work to each other through promises
 * alone. They let the event loop turn together every 10 ms: timers and sockets get their
 * turn, and neither side waits while the other runs on alone.
 */
import { describe, expect, it } from 'vitest';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import { closedAfterEach, counters } from '../core/helpers.ts';

const closers = closedAfterEach();
const COMMANDS = 50_000;
const TASKS = 16;
const CAPACITY = 4096;

/** An owner and a producer on one memory transport; `send()` sends every command from `TASKS` tasks awaiting each, and resolves once all were applied. */
async function running() {
  const transport = new MemoryTransport({ shards: 1, capacity: CAPACITY });
  let applied = 0;
  let allApplied: () => void = () => {};
  const done = new Promise<void>((resolve) => (allApplied = resolve));
  const owner = new Owner({
    domain: counters,
    transport,
    observer: {
      applied(_type, outcome, count) {
        if (outcome === 'ok' && (applied += count) >= COMMANDS) allApplied();
      },
    },
  });
  const producer = new Producer({ domain: counters, transport });
  closers.push(() => transport.close(), () => owner.close(), () => producer.close());
  await owner.start();
  await producer.connect();
  const send = async () => {
    await Promise.all(
      Array.from({ length: TASKS }, async (_, task) => {
        for (let i = task; i < COMMANDS; i += TASKS) await producer.send('add', `k${i % 100}`, { by: 1 });
      }),
    );
    await done;
  };
  return { transport, send, applied: () => applied };
}

describe('producers and an owner in one process, on promises alone', () => {
  it('apply as they send: the queue stays far from full', async () => {
    const { transport, send } = await running();
    await send();
    // An owner that let the event loop turn alone waited until the producers had filled the queue (capacity less the reserve).
    expect(transport.highWater(0)).toBeLessThan(CAPACITY / 4);
  });

  it('let a timer run while the load goes on', async () => {
    const { send, applied } = await running();
    let appliedWhenTimerRan: number | undefined;
    setTimeout(() => (appliedWhenTimerRan = applied()), 0);
    await send();
    expect(appliedWhenTimerRan).toBeDefined();
    expect(appliedWhenTimerRan).toBeLessThan(COMMANDS);
  });
});
