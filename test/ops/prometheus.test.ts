import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { available } from '../support/processes.ts';
import { launchRedis } from '../support/redis.ts';
import { readyMetricsPort, startCli, type CliProcess } from './support/cli.ts';
import { query } from './support/prometheus-api.ts';
import { pollUntil, startPrometheus, type Service } from './support/services.ts';

const SHARDS = 4;

describe.skipIf(!available('redis-server') || !available('prometheus'))('a real Prometheus scraping a consumer and a producer', () => {
  let redis: Service;
  let prometheus: Service;
  let consumer: CliProcess;
  let producer: CliProcess;
  let consumerTarget: string;
  let producerTarget: string;

  beforeAll(async () => {
    redis = await launchRedis();
    const env = { REDIS_URL: redis.url, SHARDLINE_TRANSPORT: 'bullmq', SHARDLINE_STORE: 'redis', SHARDLINE_LOG_LEVEL: 'info' };
    const metrics = ['--metrics-host', '127.0.0.1', '--metrics-port', '0'];
    consumer = startCli(['consumer', '--shards', String(SHARDS), ...metrics], env);
    consumerTarget = `127.0.0.1:${await readyMetricsPort(consumer)}`;
    // Steady, bounded load: 300 commands/s until signalled (the test signals it).
    producer = startCli(['producer', '--shards', String(SHARDS), '--count', '0', '--rate', '300', '--concurrency', '8', '--accounts', '50', ...metrics], env);
    producerTarget = `127.0.0.1:${await readyMetricsPort(producer)}`;
    prometheus = await startPrometheus([consumerTarget, producerTarget]);
  });

  afterAll(async () => {
    await Promise.all([producer?.kill(), consumer?.kill()]);
    await prometheus?.close();
    await redis?.close();
  });

  it('returns a non-zero applied rate and a depth series per shard from both processes', async () => {
    const rate = async (expr: string) => (await query(prometheus.url, expr))[0]?.value ?? 0;
    const rates = await pollUntil('non-zero applied and enqueued rates', async () => {
      const applied = await rate('sum(rate(shardline_commands_applied_total{outcome="ok"}[10s]))');
      const enqueued = await rate(`sum(rate(shardline_commands_enqueued_total{instance="${producerTarget}"}[10s]))`);
      return applied > 0 && enqueued > 0 ? { applied, enqueued } : undefined;
    }, 45_000, 500);
    expect(rates.applied).toBeGreaterThan(0);
    expect(rates.enqueued).toBeGreaterThan(0);

    const depth = await query(prometheus.url, 'shardline_queue_depth');
    for (const target of [consumerTarget, producerTarget]) {
      const shards = depth.filter((s) => s.metric.instance === target).map((s) => s.metric.shard).sort();
      expect(shards, target).toEqual(Array.from({ length: SHARDS }, (_, i) => String(i)).sort());
      expect(depth.find((s) => s.metric.instance === target)?.metric).toMatchObject({ domain: 'accounts', transport: 'bullmq' });
    }

    const owned = await query(prometheus.url, `shardline_shards_owned{instance="${consumerTarget}"}`);
    expect(owned[0]?.value).toBe(SHARDS);
    const up = await query(prometheus.url, 'up');
    expect(up.map((s) => s.value)).toEqual([1, 1]);
  });

  it('accepts every query of the provisioned Grafana dashboard', async () => {
    const dashboard = JSON.parse(await readFile('config/grafana/dashboards/shardline.json', 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
    const exprs = dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr.replaceAll('$domain', '.*').replaceAll('$__rate_interval', '10s')));
    expect(exprs.length).toBeGreaterThan(10);
    for (const expr of exprs) await expect(query(prometheus.url, expr), expr).resolves.toBeInstanceOf(Array);
  });

  it('SIGTERM stops both processes cleanly (exit 0) with the load accounted for', async () => {
    producer.signal('SIGTERM');
    expect(await producer.exited).toBe(0);
    const summary = JSON.parse(producer.stdout().trim().split('\n').pop()!) as { accepted: number; refused: Record<string, number> };
    expect(summary.accepted).toBeGreaterThan(0);
    expect(summary.refused).toEqual({});
    consumer.signal('SIGTERM');
    expect(await consumer.exited).toBe(0);
  });
});
