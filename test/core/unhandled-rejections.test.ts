/**
 * A producer must never leave a rejected promise nobody listens to: under Node's default
 * `--unhandled-rejections=throw` that ends the process with exit code 1 and the caller's
 * `catch` never runs. Each test listens for `unhandledRejection` itself.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineDomain } from '../../src/core/domain.ts';
import { shardOf } from '../../src/core/router.ts';
import { CommandFailedError, QueueFullError, Rejected, TimeoutError } from '../../src/core/errors.ts';
import { accounts } from '../../src/domains/accounts.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { waitFor } from '../../src/testing/recording-handler.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import type { EnqueueOptions, EnqueueResult, TransportMessage } from '../../src/transports/transport.ts';
import { entries, quiesce, RecordingObserver, totalDepth, TransportDecorator, yieldTurns } from './helpers.ts';

const closers: (() => Promise<unknown>)[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => {
  unhandled.push(reason);
};

beforeEach(() => {
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
});

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  process.off('unhandledRejection', onUnhandled);
});

/** Settles `promise` and returns what it rejected with (fails the test if it resolved). */
async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    const value = await promise;
    throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
  } catch (error) {
    return error;
  }
}

/**
 * Node reports an unhandled rejection once the microtasks of the turn that rejected have
 * run; a few turns later, whatever was left unhandled has been reported.
 */
async function noUnhandledRejection(): Promise<void> {
  await yieldTurns(5);
  expect(unhandled.map(String)).toEqual([]);
}

/**
 * The memory transport, whose enqueues are acknowledged to the producer only when the test
 * says so: the command is in the queue (and may be applied and replied to) before the
 * producer hears that its enqueue succeeded, as with a broker whose acknowledgement is slow.
 */
class LateAckTransport extends TransportDecorator {
  /** Enqueues done in the inner transport whose acknowledgement is held. */
  held = 0;
  #release!: () => void;
  #gate = new Promise<void>((resolve) => {
    this.#release = resolve;
  });

  constructor(inner: MemoryTransport) {
    super('late-ack', inner);
  }

  /** Acknowledges every held enqueue, and every later one at once. */
  release(): void {
    this.#release();
  }

  override async enqueue(shard: number, messages: readonly TransportMessage[], options: EnqueueOptions): Promise<EnqueueResult> {
    const result = await this.inner.enqueue(shard, messages, options);
    this.held++;
    await this.#gate;
    return result;
  }
}

/** Each command type answers one way: a reply, a business rejection, or a handler failure. */
const answers = defineDomain({
  name: 'answers',
  initial: () => ({ count: 0 }),
  commands: { count: z.object({}), refuse: z.object({}), fail: z.object({}) },
}).handle({
  count: (state) => ({ state: { count: state.count + 1 }, reply: state.count + 1 }),
  refuse: (_state, _payload, ctx) => ctx.reject('refused'),
  fail: () => {
    throw new Error('boom');
  },
});

/** An owner on `inner`, and a producer whose enqueues are acknowledged only on `release()`. */
async function lateAckSetup() {
  const inner = new MemoryTransport({ shards: 2, capacity: 32 });
  const late = new LateAckTransport(inner);
  const observer = new RecordingObserver();
  const owner = new Owner({ domain: answers, transport: inner, observer, maxAttempts: 1 });
  const producer = new Producer({ domain: answers, transport: late });
  // A test that fails before its release must not leave the producer's flush waiting.
  closers.push(() => inner.close(), () => owner.close(), () => producer.close(), async () => late.release());
  await owner.start();
  return { late, observer, producer };
}

describe('request(): whichever settles first, the caller sees it and nothing is left unhandled', () => {
  it('a full shard with requestTimeoutMs shorter than enqueueTimeoutMs: TimeoutError of the request, at requestTimeoutMs', async () => {
    const transport = new MemoryTransport({ shards: 1, capacity: 8 });
    const producer = new Producer({ domain: accounts, transport, requestTimeoutMs: 200, enqueueTimeoutMs: 20_000 });
    closers.push(() => transport.close(), () => producer.close());
    await producer.send('open', 'alice', {});
    // The producer keeps capacity/8 = 1 slot free for follow-ups: 7 fill the shard.
    for (let i = 0; i < 6; i++) await producer.send('deposit', 'alice', { amount: 1 });
    expect(await totalDepth(transport, 1)).toBe(7);

    const started = performance.now();
    const error = await caught(producer.request('deposit', 'alice', { amount: 100 }));
    const elapsedMs = performance.now() - started;
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).operation).toBe('request');
    expect((error as TimeoutError).timeoutMs).toBe(200);
    // Not the enqueue's 20 s: the request's own limit includes the wait for room.
    expect(elapsedMs).toBeLessThan(10_000);
    await noUnhandledRejection();

    // The enqueue still waits for room; once an owner makes some, the command is applied
    // once and its late reply is dropped without harm.
    const owner = new Owner({ domain: accounts, transport });
    closers.push(() => owner.close());
    await owner.start();
    await waitFor('the late request to be applied', async () => (await entries<{ balance: number }>(owner.store)).get('alice')?.balance === 106, 20_000);
    await quiesce(transport, 1);
    await noUnhandledRejection();
  });

  it.each([
    ['Rejected', 'refuse', Rejected],
    ['CommandFailedError', 'fail', CommandFailedError],
  ] as const)('a %s reply that arrives before the enqueue is acknowledged reaches the caller', async (_, type, expected) => {
    const { late, observer, producer } = await lateAckSetup();
    const outcome = caught(producer.request(type, 'alice', {}));
    // Applied and answered while the producer still waits for its enqueue's acknowledgement.
    await waitFor('the owner to answer', () => observer.count(type, 'rejected') + observer.count(type, 'failed') === 1, 10_000);
    expect(late.held).toBe(1);
    await yieldTurns(5);
    expect(unhandled.map(String)).toEqual([]);

    late.release();
    expect(await outcome).toBeInstanceOf(expected);
    await noUnhandledRejection();
  });

  it('a reply that arrives before the enqueue is acknowledged resolves the request with it', async () => {
    const { late, observer, producer } = await lateAckSetup();
    let settled = false;
    const reply = producer.request('count', 'bob', {}).finally(() => {
      settled = true;
    });
    await waitFor('the owner to apply the command', () => observer.count('count', 'ok') === 1, 10_000);
    await yieldTurns(5);
    // The reply says the command was applied: it need not wait for the acknowledgement.
    expect(settled).toBe(true);
    expect(await reply).toBe(1);
    late.release();
    await producer.flush();
    await noUnhandledRejection();
  });

  it('an enqueue refused at once (overflow reject) rejects the request with QueueFullError; its timer is gone', async () => {
    const transport = new MemoryTransport({ shards: 1, capacity: 8 });
    const producer = new Producer({ domain: accounts, transport, overflow: 'reject', requestTimeoutMs: 100 });
    closers.push(() => transport.close(), () => producer.close());
    for (let i = 0; i < 7; i++) await producer.send('open', `k${i}`, {});
    expect(await caught(producer.request('open', 'late', {}))).toBeInstanceOf(QueueFullError);
    // Waits past the request's timeout (an absence has no event to wait for): nothing fires.
    await new Promise((resolve) => setTimeout(resolve, 250));
    await noUnhandledRejection();
  });
});

describe('send() and sendMany() on a full shard', () => {
  it('report QueueFullError to the caller, per command for sendMany, and leave nothing unhandled', async () => {
    const transport = new MemoryTransport({ shards: 2, capacity: 8 });
    const producer = new Producer({ domain: accounts, transport, overflow: 'reject' });
    closers.push(() => transport.close(), () => producer.close());
    await producer.connect();
    const [full, other] = [0, 1].map((shard) => ['a', 'b', 'c', 'd', 'e', 'f'].find((key) => shardOf(key, 2) === shard)!);
    for (let i = 0; i < 7; i++) await producer.send('deposit', full!, { amount: 1 });

    expect(await caught(producer.send('deposit', full!, { amount: 1 }))).toBeInstanceOf(QueueFullError);
    const outcomes = await producer.sendMany([
      { type: 'deposit', key: full!, payload: { amount: 1 } },
      { type: 'deposit', key: other!, payload: { amount: 1 } },
    ]);
    expect(outcomes[0]).toMatchObject({ ok: false, error: expect.any(QueueFullError) });
    expect(outcomes[1]).toMatchObject({ ok: true, shard: 1 });
    await noUnhandledRejection();
  });
});
