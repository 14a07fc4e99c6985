// The gateway's own metrics on the registry it is given: requests by route and status, a
// latency histogram per route, and the requests in flight.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../src/testing/recording-handler.ts';
import { post, startRig } from './support/fixture.ts';

/** The value of one sample line of the exposition, or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('gateway metrics', () => {
  it('counts requests by route and status, times them, and shows what is in flight', async () => {
    const registry = new Registry();
    const rig = await startRig({ gateway: { registry, timeoutMs: 10_000 } });
    try {
      for (let tag = 0; tag < 3; tag++) expect((await post(`${rig.url}/v1/tallies/add/m`, { tag })).status).toBe(202);
      expect((await post(`${rig.url}/v1/tallies/add/m`, { tag: -1 })).status).toBe(400);
      expect((await post(`${rig.url}/nowhere`, {})).status).toBe(404);
      expect((await fetch(`${rig.url}/healthz`)).status).toBe(200);

      const waiting = post(`${rig.url}/v1/tallies/add/m?wait=true`, { tag: 3 });
      await waitFor('the waiting request to be in flight', async () => sample(await registry.metrics(), 'shardline_gateway_requests_in_flight') === 1, 10_000);
      await rig.startOwner();
      expect((await waiting).status).toBe(200);

      const text = await registry.metrics();
      expect(sample(text, 'shardline_gateway_requests_total{route="send",status="202"}')).toBe(3);
      expect(sample(text, 'shardline_gateway_requests_total{route="send",status="400"}')).toBe(1);
      expect(sample(text, 'shardline_gateway_requests_total{route="unmatched",status="404"}')).toBe(1);
      expect(sample(text, 'shardline_gateway_requests_total{route="health",status="200"}')).toBe(1);
      expect(sample(text, 'shardline_gateway_requests_total{route="request",status="200"}')).toBe(1);
      expect(sample(text, 'shardline_gateway_request_duration_seconds_count{route="send"}')).toBe(4);
      expect(sample(text, 'shardline_gateway_request_duration_seconds_count{route="request"}')).toBe(1);
      expect(sample(text, 'shardline_gateway_requests_in_flight')).toBe(0);
    } finally {
      await rig.close();
    }
  });
});
