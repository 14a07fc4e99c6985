// A client that goes away never leaves a command half-sent: a command already handed to its
// producer goes on to its outcome (applied once), one still waiting for room is not tried
// again, and the request counts with status 499.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../src/testing/recording-handler.ts';
import { startRig } from './support/fixture.ts';

/** Starts a POST that the test aborts later; resolves when fetch gave up. */
function abortable(url: string, body: unknown): { abort(): void; settled: Promise<unknown> } {
  const controller = new AbortController();
  const settled = fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: controller.signal,
  }).catch((error: unknown) => error);
  return { abort: () => controller.abort(), settled };
}

describe('gateway client disconnects', () => {
  it('a command waiting for its reply is still applied, once', async () => {
    const rig = await startRig({ gateway: { timeoutMs: 20_000 } });
    try {
      const request = abortable(`${rig.url}/v1/tallies/add/gone?wait=true`, { tag: 1 });
      await waitFor('the request to be in flight', () => rig.gateway.inFlight === 1, 10_000);
      request.abort();
      expect(await request.settled).toBeInstanceOf(Error);
      await rig.startOwner();
      await waitFor('the gateway to finish the request', () => rig.gateway.inFlight === 0, 10_000);
      expect((await rig.applied()).get('gone')).toEqual([1]);
    } finally {
      await rig.close();
    }
  });

  it('a command still waiting for room is not tried again, so it is never applied; counted as 499', async () => {
    const registry = new Registry();
    const rig = await startRig({ shards: 1, capacity: 8, gateway: { registry, queueWaitMs: 60_000, timeoutMs: 120_000 } });
    try {
      for (let tag = 0; tag < 7; tag++) {
        const response = await fetch(`${rig.url}/v1/tallies/add/full`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tag }) });
        expect(response.status).toBe(202);
      }
      const request = abortable(`${rig.url}/v1/tallies/add/full`, { tag: 7 });
      await waitFor('the eighth command to be refused', () => rig.refusals() > 0, 10_000);
      request.abort();
      await waitFor('the gateway to give the request up', () => rig.gateway.inFlight === 0, 10_000);
      const refusals = rig.refusals();
      await rig.startOwner();
      await waitFor('the seven accepted commands to be applied and the shard empty', async () => (await rig.applied()).get('full')?.length === 7 && (await rig.transport.depth(0)) === 0, 10_000);
      expect((await rig.applied()).get('full')).toEqual([0, 1, 2, 3, 4, 5, 6]);
      expect(rig.refusals()).toBe(refusals);
      expect(await registry.metrics()).toContain('shardline_gateway_requests_total{route="send",status="499"} 1');
    } finally {
      await rig.close();
    }
  });
});
