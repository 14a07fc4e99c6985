import { afterAll, describe, expect, it } from 'vitest';
import { accounts, type Account } from '../../src/domains/accounts.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { KafkaTransport } from '../../src/transports/kafka/index.ts';
import type { StateStore } from '../../src/state/state-store.ts';
import { FAST_KAFKA, KAFKA_WAITS, MOCK_PARTITIONS, startKafka, uniquePrefix } from '../support/kafka.ts';
import { until } from '../support/processes.ts';

const kafka = await startKafka();
afterAll(() => kafka?.close());

async function balances(store: StateStore): Promise<Record<string, number>> {
  const found: Record<string, number> = {};
  for await (const [key, state] of store.entries()) found[key] = (state as Account).balance;
  return found;
}

function equal(a: Record<string, number>, b: Record<string, number>): boolean {
  return Object.keys(a).length === Object.keys(b).length && Object.entries(b).every(([key, value]) => a[key] === value);
}

describe.skipIf(kafka === undefined)('owners with the memory store', () => {
  it('rebuild the state by replaying each partition from its beginning', async () => {
    const options = { brokers: kafka!.brokers, topicPrefix: uniquePrefix('replay'), ...FAST_KAFKA };
    await kafka!.createTopic(`${options.topicPrefix}accounts`, MOCK_PARTITIONS);
    const producerTransport = new KafkaTransport(options, { domain: accounts.name });
    const producer = new Producer({ domain: accounts, transport: producerTransport });
    const keys = Array.from({ length: 12 }, (_, i) => `r${i}`);
    await producer.sendMany(keys.map((key) => ({ type: 'open' as const, key, payload: { initialBalance: 10 } })));
    await producer.sendMany(Array.from({ length: 300 }, (_, i) => ({ type: 'deposit' as const, key: keys[i % keys.length]!, payload: { amount: 1 + (i % 5) } })));
    const expected = Object.fromEntries(keys.map((key, k) => [key, 10 + Array.from({ length: 25 }, (_, j) => 1 + ((j * keys.length + k) % 5)).reduce((a, b) => a + b, 0)]));

    const firstTransport = new KafkaTransport(options, { domain: accounts.name });
    const first = new Owner({ domain: accounts, transport: firstTransport });
    await first.start();
    await until('the first owner applying everything', async () => equal(await balances(first.store), expected), 30_000, KAFKA_WAITS.pollMs);
    expect(await balances(first.store)).toEqual(expected);
    await first.close();
    await firstTransport.close();

    // A new process: empty memory store, while the group's committed offsets are at the end.
    const secondTransport = new KafkaTransport(options, { domain: accounts.name });
    const second = new Owner({ domain: accounts, transport: secondTransport });
    await second.start();
    await until('the second owner rebuilding the same state', async () => equal(await balances(second.store), expected), 30_000, KAFKA_WAITS.pollMs);
    expect(await balances(second.store)).toEqual(expected);
    await second.close();
    await secondTransport.close();
    await producer.close();
    await producerTransport.close();
  }, 90_000);
});
