import { describe, expect, it } from 'vitest';
import { lastJson, readyMetricsPort, startCli } from './support/cli.ts';

interface Summary {
  commands: number;
  moneyBefore: number;
  moneyAfter: number;
  negativeBalances: number;
  maxDepth: number;
  capacity: number;
}

describe('shardline demo', () => {
  it('prints a conserving summary as the last stdout line with --json and exits 0', async () => {
    const demo = startCli(['demo', '--transfers', '5000', '--producers', '16', '--shards', '4', '--no-metrics', '--json', '--log-level', 'warn']);
    try {
      expect(await demo.exited).toBe(0);
      const summary = lastJson<Summary>(demo.stdout());
      expect(summary.commands).toBe(5000);
      expect(summary.moneyAfter).toBe(summary.moneyBefore);
      expect(summary.negativeBalances).toBe(0);
      expect(summary.maxDepth).toBeLessThanOrEqual(summary.capacity);
    } finally {
      await demo.kill();
    }
  });

  // Under load the memory pipeline chains promises alone; this holds because the memory
  // delivery loop lets the event loop turn every few milliseconds.
  it('answers /readyz and /metrics while the transfers run', async () => {
    const demo = startCli(['demo', '--duration-ms', '3000', '--producers', '16', '--shards', '4', '--metrics-host', '127.0.0.1', '--metrics-port', '0', '--json']);
    try {
      const port = await readyMetricsPort(demo);
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      for (let shard = 0; shard < 4; shard++) expect(text).toContain(`shardline_queue_depth{domain="accounts",transport="memory",shard="${shard}"}`);
      expect(text).toContain('shardline_shards_owned{domain="accounts",transport="memory"} 4');
    } finally {
      await demo.kill();
    }
  });

  it('refuses another transport with exit 2', async () => {
    const demo = startCli(['demo', '--transport', 'bullmq', '--no-metrics']);
    expect(await demo.exited).toBe(2);
    expect(demo.stderr()).toContain('transport: expected the memory transport');
  });
});
