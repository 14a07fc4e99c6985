// `shardline gateway` as a process: flags and environment, exit code 2 for bad settings,
// the bearer token from SHARDLINE_GATEWAY_TOKEN, its metrics on the process's /metrics, and a
// SIGTERM that lets the request in flight finish before it exits 0.
import { afterAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisService } from '../support/redis.ts';
import { readyMetricsPort, runCli, startCli, type CliProcess } from '../ops/support/cli.ts';
import { waitFor } from '../../src/testing/recording-handler.ts';
import { post } from './support/fixture.ts';

const redis = await startRedis();

/** The port from the gateway's "gateway listening" log line, once it is there. */
async function gatewayPort(process: CliProcess): Promise<number> {
  let port: number | undefined;
  await waitFor(
    'the gateway to log its port',
    () => {
      const line = process.stderr().split('\n').find((l) => l.includes('"gateway listening"'));
      if (line !== undefined) port = (JSON.parse(line) as { port: number }).port;
      if (process.child.exitCode !== null) throw new Error(`exited ${process.child.exitCode}:\n${process.stderr()}`);
      return port !== undefined;
    },
    30_000,
  );
  return port!;
}

describe('shardline gateway', () => {
  it('exits 2 naming every bad setting, before it connects to anything', async () => {
    const bad = await runCli(['gateway', '--transport', 'bullmq', '--port', 'eighty', '--timeout-ms', '0', '--no-metrics'], { SHARDLINE_GATEWAY_TOKEN: 'short' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('gateway.port');
    expect(bad.stderr).toContain('gateway.timeoutMs');
    expect(bad.stderr).toContain('gateway.token');
    expect(bad.stderr).not.toContain('short');

    const memory = await runCli(['gateway', '--transport', 'memory', '--no-metrics']);
    expect(memory.code).toBe(2);
    expect(memory.stderr).toContain('transport');
  });

  describe.skipIf(redis === undefined)('on BullMQ', () => {
    const service = redis as RedisService;
    afterAll(() => service.close());

    it('serves with the token from the environment, counts on /metrics, and drains on SIGTERM', async () => {
      const token = 'token-from-the-environment';
      const gateway = startCli(
        ['gateway', '--transport', 'bullmq', '--redis-url', service.url, '--replies', 'redis', '--port', '0', '--metrics-port', '0', '--timeout-ms', '3000'],
        { SHARDLINE_GATEWAY_TOKEN: token, SHARDLINE_LOG_LEVEL: 'info' },
      );
      try {
        const port = await gatewayPort(gateway);
        const metricsPort = await readyMetricsPort(gateway);
        const url = `http://127.0.0.1:${port}/v1/accounts/deposit/a`;
        expect((await post(url, { amount: 1 })).status).toBe(401);
        const sent = await post(url, { amount: 1 }, { authorization: `Bearer ${token}` });
        expect(sent).toMatchObject({ status: 202, body: { id: expect.any(String) } });

        const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
        expect(metrics).toContain('shardline_gateway_requests_total{route="send",status="401"} 1');
        expect(metrics).toContain('shardline_gateway_requests_total{route="send",status="202"} 1');

        // No owner runs: the request waits for its reply until the timeout, while SIGTERM arrives.
        const waiting = post(`${url}?wait=true`, { amount: 1 }, { authorization: `Bearer ${token}` });
        await waitFor(
          'the request to be in flight',
          async () => (await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()).includes('shardline_gateway_requests_in_flight 1'),
          10_000,
        );
        gateway.signal('SIGTERM');
        expect((await waiting).status).toBe(504);
        expect(await gateway.exited).toBe(0);
      } finally {
        await gateway.kill();
      }
    });
  });
});
