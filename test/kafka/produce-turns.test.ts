import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { OutgoingCommand } from '../../src/core/command.ts';
import { KafkaTransport } from '../../src/transports/kafka/index.ts';
import { ProduceTurns, type PartitionRecord } from '../../src/transports/kafka/produce-turns.ts';
import { FAST_KAFKA, MOCK_PARTITIONS, startKafka, uniquePrefix } from '../support/kafka.ts';

const record = (partition: number, value: string): PartitionRecord => ({ key: `k${partition}`, value, partition });
const ENQUEUE = { overflow: 'block', timeoutMs: 5_000, reserve: 0 } as const;

/** One enqueue of one command to each of `shardCount` shards, all in this turn; the command ids name `round`. */
const enqueueToEveryShard = (transport: KafkaTransport, shardCount: number, round: string) =>
  Array.from({ length: shardCount }, (_, shard) =>
    transport.enqueue(shard, [new OutgoingCommand({ id: `${round}.${shard}`, type: 'noop', key: `k${shard}`, payload: {}, sentAt: Date.now() })], ENQUEUE),
  );

describe('producing the enqueues of one turn together', () => {
  /** A produce call that records what it was given and fails while a record of `failing` is in it. */
  function calls(failing?: number) {
    const made: string[][] = [];
    const produce = async (records: readonly PartitionRecord[]) => {
      made.push(records.map((r) => r.value));
      if (records.some((r) => r.partition === failing)) throw new Error(`partition ${failing} is offline`);
    };
    return { made, produce };
  }

  it('makes one call of everything enqueued in the same turn, in order, and another for the next turn', async () => {
    const { made, produce } = calls();
    const turns = new ProduceTurns(produce, 1_000);
    await Promise.all([turns.produce([record(0, 'a'), record(0, 'b')], 4), turns.produce([record(1, 'c')], 2), turns.produce([record(2, 'd')], 2)]);
    await turns.produce([record(0, 'e')], 2);
    expect(made).toEqual([['a', 'b', 'c', 'd'], ['e']]);
  });

  it('keeps each enqueue whole and under maxBytes per call, one call after another', async () => {
    const { made, produce } = calls();
    const turns = new ProduceTurns(produce, 10);
    await Promise.all([turns.produce([record(0, 'a')], 6), turns.produce([record(1, 'b'), record(1, 'c')], 6), turns.produce([record(2, 'd')], 4)]);
    expect(made).toEqual([['a'], ['b', 'c', 'd']]);
  });

  it("fails only the failing shard's enqueue: a failed call of several is made again one enqueue at a time", async () => {
    const { made, produce } = calls(1);
    const turns = new ProduceTurns(produce, 1_000);
    const outcomes = await Promise.allSettled([turns.produce([record(0, 'a')], 2), turns.produce([record(1, 'b')], 2), turns.produce([record(2, 'c')], 2)]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ message: 'partition 1 is offline' });
    expect(made).toEqual([['a', 'b', 'c'], ['a'], ['b'], ['c']]);
  });
});

const kafka = await startKafka();

describe.skipIf(kafka === undefined)('a Kafka transport, against a Kafka-protocol broker', () => {
  const topicPrefix = uniquePrefix('produce-turns');
  const domain = 'turns';
  const closers: (() => Promise<unknown>)[] = [];

  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await kafka?.close();
  });

  it('sends the enqueues of every shard made in one turn in one produce request per broker', async () => {
    await kafka!.createTopic(`${topicPrefix}${domain}`, MOCK_PARTITIONS);
    const client = new Kafka({ brokers: kafka!.brokers, clientId: 'produce-turns', logLevel: logLevel.NOTHING });
    let produceRequests = 0;
    const producer = client.producer.bind(client);
    const counted = Object.assign(Object.create(client) as Kafka, {
      producer: (...args: Parameters<Kafka['producer']>): Producer => {
        const made = producer(...args);
        made.on(made.events.REQUEST, ({ payload }) => {
          if (payload.apiName === 'Produce') produceRequests++;
        });
        return made;
      },
    });
    const transport = new KafkaTransport({ ...FAST_KAFKA, client: counted, topicPrefix }, { domain });
    closers.push(() => transport.close());
    const { shardCount } = await transport.connect();
    const admin = client.admin();
    closers.push(() => admin.disconnect());
    await admin.connect();
    const [topic] = (await admin.fetchTopicMetadata({ topics: [`${topicPrefix}${domain}`] })).topics;
    const leaders = new Set(topic!.partitions.map((p) => p.leader));
    expect(leaders.size).toBeLessThan(shardCount);

    // The first enqueue of each shard waits for a sample of the lag, so the first round may come in several turns.
    await Promise.all(enqueueToEveryShard(transport, shardCount, 'r1'));
    for (let round = 2; round <= 3; round++) {
      const before = produceRequests;
      await Promise.all(enqueueToEveryShard(transport, shardCount, `r${round}`));
      expect(produceRequests - before, `round ${round}`).toBe(leaders.size);
    }
    const ends = await admin.fetchTopicOffsets(`${topicPrefix}${domain}`);
    expect(ends.map((end) => Number(end.high))).toEqual(Array.from({ length: shardCount }, () => 3));
  });

  // Stops the cluster: last in this file, and only for the mock cluster the file started.
  it.skipIf(kafka?.mock !== true)('fails every enqueue of a turn whose brokers are gone, each naming its own partition, none hanging', async () => {
    const outage = 'outage';
    await kafka!.createTopic(`${topicPrefix}${outage}`, MOCK_PARTITIONS);
    const transport = new KafkaTransport({ ...FAST_KAFKA, retries: 1, brokers: kafka!.brokers, topicPrefix }, { domain: outage });
    closers.push(() => transport.close());
    const { shardCount } = await transport.connect();
    await Promise.all(enqueueToEveryShard(transport, shardCount, 'before'));

    await kafka!.close();
    const started = performance.now();
    const outcomes = await Promise.allSettled(enqueueToEveryShard(transport, shardCount, 'during'));
    const seconds = (performance.now() - started) / 1000;
    outcomes.forEach((outcome, shard) => {
      expect(outcome.status, `shard ${shard}`).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason).toMatchObject({ code: 'CONNECTION', message: expect.stringContaining(`partition ${shard} failed`) });
    });
    expect(seconds).toBeLessThan(60);
  }, 120_000);
});
