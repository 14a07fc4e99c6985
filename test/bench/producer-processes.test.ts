import { afterAll, describe, expect, it } from 'vitest';
import type { BenchContext, ScenarioResult } from '../../src/bench/scenario.ts';
import { scenario as kafkajsRaw } from '../../src/bench/scenarios/kafkajs-raw.ts';
import { scenario as shardlineBullmq } from '../../src/bench/scenarios/shardline-bullmq.ts';
import { scenario as shardlineKafka } from '../../src/bench/scenarios/shardline-kafka.ts';
import { scenario as shardlineMemory } from '../../src/bench/scenarios/shardline-memory.ts';
import { makeWorkload } from '../../src/bench/workload.ts';
import { startKafka } from '../support/kafka.ts';
import { startRedis } from '../support/redis.ts';

const redis = await startRedis();
const kafka = await startKafka();

function context(extra: Partial<BenchContext>): BenchContext {
  return { workload: makeWorkload('hot', 2_000, 100), producerProcesses: 2, progress: () => {}, ...extra };
}

const rows = async (run: Promise<ScenarioResult | readonly ScenarioResult[]>) => {
  const outcome = await run;
  return Array.isArray(outcome) ? outcome : [outcome as ScenarioResult];
};

describe('bench --producer-processes', () => {
  afterAll(async () => {
    await redis?.close();
    await kafka?.close();
  });

  it.skipIf(redis === undefined)('BullMQ: two producer processes deliver the workload exactly once, batched and per command', async () => {
    const results = await rows(shardlineBullmq.run(context({ redisUrl: redis!.url })));
    expect(results.map((r) => [r.name, r.lostUpdates, r.duplicates, r.notes?.producerProcesses])).toEqual([
      ['shardline-bullmq', 0, 0, 2],
      ['shardline-bullmq/per-command', 0, 0, 2],
    ]);
  });

  it.skipIf(kafka === undefined)('Kafka: two producer processes deliver the workload exactly once, for shardline and for its kafkajs baseline', { timeout: 180_000 }, async () => {
    for (const scenario of [shardlineKafka, kafkajsRaw]) {
      const [result] = await rows(scenario.run(context({ kafkaBrokers: kafka!.brokers })));
      expect(result, scenario.name).toMatchObject({ lostUpdates: 0, duplicates: 0, notes: { producerProcesses: 2 } });
    }
  });

  it('memory: says it sends in-process, since the transport cannot cross processes', async () => {
    const results = await rows(shardlineMemory.run(context({})));
    for (const r of results) expect(r).toMatchObject({ lostUpdates: 0, duplicates: 0, notes: { producers: 'in-process: the memory transport cannot cross processes' } });
    expect(results[0]!.notes?.bytesPerQueuedCommand).toBeGreaterThan(0);
    expect(results[0]!.notes?.bytesPerCachedEntity).toBeGreaterThan(0);
  });
});
