/**
 * A consumer whose transport breaks its contract is loud about it: the shard stops, the
 * process answers `/readyz` 503 naming the violation, and the metrics count it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../support/processes.ts';
import { startCli, type CliProcess } from './support/cli.ts';

const running: CliProcess[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((process) => process.kill()));
});

describe('a consumer on a transport that breaks its contract', () => {
  it('stops the shard, answers /readyz 503 with the violation, and counts it in /metrics', async () => {
    const consumer = startCli(['consumer', '--transport', './test/ops/fixtures/positions-past-limit.ts', '--metrics-port', '0', '--log-level', 'info']);
    running.push(consumer);
    let port: number | undefined;
    let body: { ready: boolean; reason?: string } | undefined;
    await until('the consumer to report the stopped shard on /readyz', async () => {
      const line = consumer.stderr().split('\n').find((l) => l.includes('"serving /metrics, /healthz, /readyz"'));
      if (line === undefined) return false;
      port = (JSON.parse(line) as { port: number }).port;
      const response = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
      if (response === undefined) return false;
      body = (await response.json()) as { ready: boolean; reason?: string };
      return response.status === 503 && (body.reason ?? '').includes('broke its contract');
    }, 30_000);
    expect(body!.reason).toMatch(/stopped 1 shard\(s\) whose transport broke its contract: transport positions-past-limit broke its contract on shard \d: position 137438953472 is not an integer in 0\.\.137438953471/);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/^shardline_shards_stopped\{[^}]*\} 1$/m);
    expect(metrics).toMatch(/^shardline_transport_contract_violations_total\{[^}]*\} [1-9]\d*$/m);
    expect(consumer.stderr()).toContain('transport broke its contract: shard stopped, nothing more is applied');
    expect(consumer.child.exitCode).toBeNull();
  });
});
