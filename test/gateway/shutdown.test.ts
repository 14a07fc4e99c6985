// Graceful close of the gateway library: it stops accepting at once, lets the requests in
// flight finish with their real outcome, and resolves only after them.
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../src/testing/recording-handler.ts';
import { post, startRig } from './support/fixture.ts';

describe('gateway close', () => {
  it('refuses new connections, finishes the request in flight, then resolves', async () => {
    const rig = await startRig({ gateway: { timeoutMs: 20_000 } });
    try {
      const waiting = post(`${rig.url}/v1/tallies/add/s?wait=true`, { tag: 1 });
      await waitFor('the request to be in flight', () => rig.gateway.inFlight === 1, 10_000);

      let closed = false;
      const closing = rig.gateway.close().then(() => (closed = true));
      expect(rig.gateway.readiness()).toEqual({ ready: false, reason: 'shutting down' });
      await expect(fetch(`${rig.url}/healthz`)).rejects.toThrow();

      await rig.startOwner();
      const answer = await waiting;
      expect(answer.status).toBe(200);
      expect((answer.body.reply as { count: number }).count).toBe(1);
      await closing;
      expect(closed).toBe(true);
      expect(rig.gateway.inFlight).toBe(0);
    } finally {
      await rig.close();
    }
  });
});
