import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafka, type KafkaService } from '../support/kafka.ts';
import { lastJson, readyMetricsPort, startCli, type CliProcess } from './support/cli.ts';
import { pollUntil } from './support/services.ts';

const SHARDS = 4;

async function applied(port: number, type: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`shardline_commands_applied_total{`) && l.includes(`type="${type}",outcome="ok"`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

const kafka = await startKafka();

describe.skipIf(kafka === undefined)('shardline consumer and producer on the Kafka transport', () => {
  const processes: CliProcess[] = [];
  let env: Record<string, string>;

  beforeAll(() => {
    env = { KAFKA_BROKERS: kafka!.brokers.join(','), SHARDLINE_TRANSPORT: 'kafka', SHARDLINE_LOG_LEVEL: 'info' };
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill()));
    await kafka?.close();
  });

  it('applies every accepted command and stops cleanly on SIGTERM', async () => {
    const consumer = startCli(['consumer', '--shards', String(SHARDS), '--metrics-host', '127.0.0.1', '--metrics-port', '0'], env);
    processes.push(consumer);
    const port = await readyMetricsPort(consumer, 45_000);
    const producer = startCli(['producer', '--shards', String(SHARDS), '--mix', 'deposits', '--count', '2000', '--concurrency', '8', '--accounts', '20', '--no-metrics'], env);
    processes.push(producer);
    expect(await producer.exited).toBe(0);
    const summary = lastJson<{ opened: number; accepted: number }>(producer.stdout());
    expect(summary).toMatchObject({ opened: 20, accepted: 2000 });
    await pollUntil('every deposit applied', async () => ((await applied(port, 'deposit')) === 2000 ? true : undefined), 45_000, 200);
    expect(await applied(port, 'open')).toBe(20);
    consumer.signal('SIGTERM');
    expect(await consumer.exited).toBe(0);
  });
});
