import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAccountsDemo } from './accounts-demo.ts';
import { natsAvailable, startNatsServer, type NatsServer } from './nats-server.ts';

let server: NatsServer | undefined;
beforeAll(async () => {
  if (natsAvailable()) server = await startNatsServer();
});
afterAll(async () => {
  await server?.stop();
});

describe.skipIf(!natsAvailable())('accounts demo on NATS JetStream', () => {
  it('conserves money and never overdraws while shards move between owners under load', async () => {
    const summary = await runAccountsDemo({ servers: server!.url, transfers: 1_500, capacity: 32, timeoutMs: 50_000 });

    expect(summary.moneyAfter).toBe(summary.moneyBefore);
    expect(summary.negativeBalances).toBe(0);
    expect(summary.failed).toBe(0);
    expect(summary.transfersApplied + summary.transfersRejected).toBe(summary.transfersAccepted);
    expect(summary.transfersAccepted).toBe(1_500);
    // 4 shards granted at start, then again to the joining owner and to the survivor.
    expect(summary.shardsGained).toBeGreaterThan(4);
    // Only owners' follow-ups that waited past followUpForceAfterMs may go over capacity.
    expect(summary.maxDepth).toBeLessThanOrEqual(summary.capacity + summary.followUpsForced);
  }, 60_000);
});
