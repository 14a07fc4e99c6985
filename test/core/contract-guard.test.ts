/**
 * An owner refuses deliveries that break the transport contract, loudly: it stops the
 * shard with a `TransportContractError` naming the transport, the shard and the positions,
 * and applies nothing more of it, where skipping would lose commands. The broken
 * transports are decorators of the real memory transport; the owner and store are real.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { MemoryStateStore } from '../../src/state/memory-store.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import { MAX_POSITION, type Delivery, type ShardGrant, type ShardHandler, type Transport } from '../../src/transports/transport.ts';
import { TransportDecorator } from '../support/decorators.ts';
import { waitFor } from '../../src/testing/recording-handler.ts';
import { TransportContractError } from '../../src/core/errors.ts';
import { counters, entries, FaultyStore, keysOnShard } from './helpers.ts';

/** Rewrites what the owner's handler sees of each delivery; everything else is the memory transport's. */
class Rewriting extends TransportDecorator<MemoryTransport> {
  readonly #rewrite: (handler: ShardHandler) => ShardHandler;

  constructor(inner: MemoryTransport, rewrite: (handler: ShardHandler) => ShardHandler) {
    super('rewriting-memory', inner);
    this.#rewrite = rewrite;
  }

  protected override wrap(handler: ShardHandler): ShardHandler {
    return this.#rewrite(handler);
  }
}

/** Delivers through `deliver`, which sees the real handler's `deliver`. */
function intercept(deliver: (real: ShardHandler['deliver'], grant: ShardGrant, batch: readonly Delivery[]) => Promise<void>) {
  return (handler: ShardHandler): ShardHandler => ({
    assigned: (grant) => handler.assigned(grant),
    revoked: (grant) => handler.revoked(grant),
    deliver: (grant, batch) => deliver((g, b) => handler.deliver(g, b), grant, batch),
  });
}

/** `delivery` at another position (its `value` and `command` may be getters: read them out). */
function moved(delivery: Delivery, position: number): Delivery {
  return { key: delivery.key, value: delivery.value, command: delivery.command, position };
}

const SHARDS = 2;
const opened: { close(): Promise<void> }[] = [];

afterEach(async () => {
  for (const item of opened.splice(0).reverse()) await item.close();
});

async function run(transport: Transport, store = new MemoryStateStore()) {
  const violations: { shard: number; error: Error }[] = [];
  const owner = new Owner({ domain: counters, transport, store, observer: { contractViolation: (shard, error) => violations.push({ shard, error }) } });
  const producer = new Producer({ domain: counters, transport });
  opened.push(transport, owner, producer);
  await owner.start();
  return { owner, producer, violations, store };
}

async function values(store: { entries(): AsyncIterable<[string, unknown]> }): Promise<Record<string, number>> {
  const all = await entries<{ value: number }>(store as MemoryStateStore);
  return Object.fromEntries([...all].map(([key, state]) => [key, state.value]));
}

describe('an owner facing a transport that breaks its contract', () => {
  it('stops the shard when a rejected batch is redelivered behind newer messages, and applies neither', async () => {
    const [a, b] = keysOnShard(0, SHARDS, 2);
    let held: { grant: ShardGrant; batch: readonly Delivery[] } | undefined;
    // A rejected delivery is acknowledged to the queue anyway and kept aside: newer
    // messages come first, the old ones after (the bug a custom adapter shipped with).
    const transport = new Rewriting(
      new MemoryTransport({ shards: SHARDS, capacity: 64, maxBatch: 1, retryDelayMs: 5 }),
      intercept(async (deliver, grant, batch) => {
        try {
          await deliver(grant, batch);
        } catch (error) {
          if (held !== undefined || (error as { code?: string }).code !== 'CONNECTION') throw error;
          held = { grant, batch };
          return;
        }
        if (held !== undefined) {
          const late = held;
          held = undefined;
          await deliver(late.grant, late.batch);
        }
      }),
    );
    const store = new FaultyStore(new MemoryStateStore());
    const { owner, producer, violations } = await run(transport, store as unknown as MemoryStateStore);
    store.failNextCommits(1);
    await producer.send('add', a!, { by: 1 });
    await waitFor('the first commit to fail', () => held !== undefined, 5_000);
    await producer.send('add', b!, { by: 10 });

    await waitFor('the owner to stop shard 0', () => owner.stopped().length === 1, 5_000);
    const { shard, error } = owner.stopped()[0]!;
    expect(shard).toBe(0);
    expect(error).toBeInstanceOf(TransportContractError);
    expect(error).toMatchObject({ code: 'TRANSPORT_CONTRACT', transport: 'rewriting-memory', shard: 0, retriable: false });
    expect(error.message).toMatch(/rejected position 0 was not delivered again before position 1/);
    expect(violations.map((v) => v.shard)).toEqual([0]);
    // Neither command was applied: the newer one was refused, the older one is still owed.
    expect(await values(store.inner)).toEqual({});
  });

  it('stops the shard on a position above MAX_POSITION and applies nothing of it', async () => {
    const [a] = keysOnShard(1, SHARDS, 1);
    const transport = new Rewriting(
      new MemoryTransport({ shards: SHARDS, capacity: 64, retryDelayMs: 5 }),
      intercept((deliver, grant, batch) => deliver(grant, batch.map((d) => moved(d, d.position + MAX_POSITION + 1)))),
    );
    const { owner, producer, store } = await run(transport);
    await producer.send('add', a!, { by: 1 });
    await producer.send('add', a!, { by: 1 });
    await waitFor('the owner to stop shard 1', () => owner.stopped().length === 1, 5_000);
    expect(owner.stopped()[0]!.error.message).toMatch(new RegExp(`shard 1: position ${MAX_POSITION + 1} is not an integer in 0\\.\\.${MAX_POSITION}`));
    expect(await values(store)).toEqual({});
  });

  it('stops the shard when positions go backwards after an acknowledgement, late in its life', async () => {
    const [a] = keysOnShard(0, SHARDS, 1);
    let deliveries = 0;
    const transport = new Rewriting(
      new MemoryTransport({ shards: SHARDS, capacity: 64, maxBatch: 1, retryDelayMs: 5 }),
      intercept((deliver, grant, batch) => deliver(grant, ++deliveries > 5 ? batch.map((d) => moved(d, d.position - 3)) : batch)),
    );
    const { owner, producer, store } = await run(transport);
    for (let i = 0; i < 5; i++) await producer.send('add', a!, { by: 1 });
    await waitFor('five applied', async () => (await values(store))[a!] === 5, 5_000);
    await producer.send('add', a!, { by: 100 });
    await waitFor('the owner to stop shard 0', () => owner.stopped().length === 1, 5_000);
    expect(owner.stopped()[0]!.error.message).toMatch(/positions went backwards: position 2 delivered after position 4 was acknowledged/);
    expect((await values(store))[a!]).toBe(5);
  });

  it('stops the shard when a new grant gets new commands at positions already applied (a reset counter)', async () => {
    const [a] = keysOnShard(0, SHARDS, 1);
    const store = new MemoryStateStore();
    const broker = MemoryTransport.broker({ shards: SHARDS, capacity: 64, retryDelayMs: 5 });
    const producer = new Producer({ domain: counters, transport: new MemoryTransport({ broker }) });
    opened.push(producer);
    const first = new Owner({ domain: counters, transport: new MemoryTransport({ broker }), store });
    await first.start();
    for (let i = 0; i < 6; i++) await producer.send('add', a!, { by: 1 });
    await waitFor('six applied', async () => (await values(store))[a!] === 6, 5_000);
    await first.close();

    // The next owner's transport lost its position counter: it numbers from 0 again, while
    // the same producer goes on sending.
    const reset = new Rewriting(new MemoryTransport({ broker }), intercept((deliver, grant, batch) => deliver(grant, batch.map((d) => moved(d, d.position - 6)))));
    const violations: number[] = [];
    const second = new Owner({ domain: counters, transport: reset, store, observer: { contractViolation: (shard) => violations.push(shard) } });
    opened.push(second);
    await second.start();
    await producer.send('add', a!, { by: 1000 });
    await waitFor('the owner to stop shard 0', () => second.stopped().length === 1, 5_000);
    expect(second.stopped()[0]!.error.message).toMatch(/position 0 is at or below the applied position 5 but carries a command never applied .*: positions were reused/);
    expect(violations).toEqual([0]);
    expect((await values(store))[a!]).toBe(6);
  });
});
