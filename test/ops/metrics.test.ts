import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accounts } from '../../src/domains/accounts.ts';
import { ShardlineInstruments } from '../../src/metrics/instruments.ts';
import { MetricsObserver } from '../../src/metrics/metrics-observer.ts';
import { MetricsServer } from '../../src/metrics/server.ts';
import { combineObservers } from '../../src/runtime/observer.ts';
import { Owner } from '../../src/runtime/owner.ts';
import { Producer } from '../../src/runtime/producer.ts';
import { MemoryTransport } from '../../src/transports/memory/memory-transport.ts';
import { pollUntil } from './support/services.ts';

const NAMES = [
  'shardline_queue_depth',
  'shardline_queue_capacity',
  'shardline_commands_enqueued_total',
  'shardline_commands_applied_total',
  'shardline_apply_duration_seconds',
  'shardline_end_to_end_seconds',
  'shardline_batch_size',
  'shardline_backpressure_wait_seconds',
  'shardline_enqueue_rejected_total',
  'shardline_shards_owned',
  'shardline_ownership_changes_total',
  'shardline_stale_epoch_total',
  'shardline_dead_letters_total',
  'process_cpu_seconds_total',
  'nodejs_heap_size_used_bytes',
];

function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('metrics of a running memory runtime', () => {
  const transport = new MemoryTransport({ shards: 4, capacity: 64 });
  const instruments = new ShardlineInstruments({ domain: 'accounts', transport: 'memory' });
  const observer = new MetricsObserver(instruments);
  const owner = new Owner({ domain: accounts, transport, observer });
  const producer = new Producer({ domain: accounts, transport, observer });
  let ready = false;
  const server = new MetricsServer({
    registry: instruments.registry,
    host: '127.0.0.1',
    port: 0,
    readiness: () => (ready ? { ready: true } : { ready: false, reason: 'connecting' }),
  });
  let base: string;

  beforeAll(async () => {
    base = `http://127.0.0.1:${await server.listen()}`;
  });

  afterAll(async () => {
    await producer.close();
    await owner.close();
    await transport.close();
    await server.close();
  });

  it('serves /healthz always and /readyz only once ready', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ ready: false, reason: 'connecting' });
    ready = true;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  it('counts what the runtime does, under the names the issue lists', async () => {
    const info = await transport.connect();
    instruments.watchQueues({ shardCount: info.shardCount, capacity: info.capacity, depth: (shard) => transport.depth(shard) });
    instruments.watchOwnership(() => owner.owned().length);
    await owner.start();
    await producer.sendMany(Array.from({ length: 20 }, (_, i) => ({ type: 'open' as const, key: `a${i}`, payload: { initialBalance: 100 } })));
    await producer.send('withdraw', 'a0', { amount: 1_000 });
    await producer.send('deposit', 'a1', { amount: 5 });

    const text = await pollUntil('22 commands applied', async () => {
      const body = await (await fetch(`${base}/metrics`)).text();
      const labels = 'domain="accounts",transport="memory"';
      const ok = value(body, `shardline_commands_applied_total{${labels},type="open",outcome="ok"}`) ?? 0;
      const rejected = value(body, `shardline_commands_applied_total{${labels},type="withdraw",outcome="rejected"}`) ?? 0;
      const deposit = value(body, `shardline_commands_applied_total{${labels},type="deposit",outcome="ok"}`) ?? 0;
      return ok === 20 && rejected === 1 && deposit === 1 ? body : undefined;
    });
    for (const name of NAMES) expect(text, name).toContain(`# TYPE ${name} `);
    const labels = 'domain="accounts",transport="memory"';
    expect(value(text, `shardline_commands_enqueued_total{${labels},type="open"}`)).toBe(20);
    // End-to-end latency is timed for applied (ok) commands: 20 opens and the deposit, not the rejected withdraw.
    expect(value(text, `shardline_end_to_end_seconds_count{${labels}}`)).toBe(21);
    expect(value(text, `shardline_shards_owned{${labels}}`)).toBe(4);
    expect(value(text, `shardline_ownership_changes_total{${labels},event="gained"}`)).toBe(4);
    for (let shard = 0; shard < 4; shard++) {
      expect(value(text, `shardline_queue_depth{${labels},shard="${shard}"}`)).toBe(0);
      expect(value(text, `shardline_queue_capacity{${labels},shard="${shard}"}`)).toBe(64);
    }
  });

  it('records refusals, waits, fencing and dead letters', async () => {
    observer.enqueueRefused(0, 'full');
    observer.backpressureWait(0.02);
    observer.staleEpoch(1);
    observer.deadLettered(2, undefined, 'decode: not JSON');
    const text = await instruments.metrics();
    const labels = 'domain="accounts",transport="memory"';
    expect(value(text, `shardline_enqueue_rejected_total{${labels},reason="full"}`)).toBe(1);
    expect(value(text, `shardline_backpressure_wait_seconds_count{${labels}}`)).toBe(1);
    expect(value(text, `shardline_stale_epoch_total{${labels}}`)).toBe(1);
    expect(value(text, `shardline_dead_letters_total{${labels},type="unknown"}`)).toBe(1);
  });

  it('works when the runtime calls its hooks detached or copies them by key', async () => {
    const { enqueued } = observer;
    enqueued('deposit', 2);
    combineObservers(observer, {}).enqueued!('deposit', 3);
    const text = await instruments.metrics();
    expect(value(text, 'shardline_commands_enqueued_total{domain="accounts",transport="memory",type="deposit"}')).toBe(6);
  });

  it('keeps its instruments off the global registry, so two runtimes in one process do not collide', () => {
    expect(() => new ShardlineInstruments({ domain: 'accounts', transport: 'memory' }, { defaultMetrics: false })).not.toThrow();
  });
});
