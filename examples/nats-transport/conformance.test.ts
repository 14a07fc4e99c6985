import { randomBytes } from 'node:crypto';
import { connect } from 'nats';
import { afterAll, beforeAll, describe } from 'vitest';
import { silentLogger, type Transport } from '../../src/index.ts';
import { describeTransportConformance } from '../../src/testing/index.ts';
import { NatsTransport } from './index.ts';
import { natsAvailable, startNatsServer, type NatsServer } from './nats-server.ts';

let server: NatsServer | undefined;
beforeAll(async () => {
  if (natsAvailable()) server = await startNatsServer();
});
afterAll(async () => {
  await server?.stop();
});

describe.skipIf(!natsAvailable())('nats-transport', () => {
  describeTransportConformance({
    name: 'nats jetstream',
    async setup() {
      const prefix = `c${randomBytes(4).toString('hex')}`;
      const options = {
        servers: server!.url,
        prefix,
        shards: 4,
        capacity: 16,
        leaseTtlMs: 1_000,
        retryDelayMs: 20,
        pollIntervalMs: 50,
        revokeTimeoutMs: 500,
        storage: 'memory' as const,
      };
      return {
        create: () => new NatsTransport(options, { domain: 'conformance', logger: silentLogger }),
        async dispose() {
          const nc = await connect({ servers: server!.url });
          const jsm = await nc.jetstreamManager();
          await Promise.allSettled([jsm.streams.delete(`${prefix}_conformance`), jsm.streams.delete(`KV_${prefix}_conformance_owners`)]);
          await nc.close();
        },
      };
    },
    crash: (transport: Transport) => (transport as NatsTransport).crash(),
    // Hand-over takes about two heartbeats; the margin is for a CI machine busy with other suites.
    handOverTimeoutMs: 15_000,
  });
});
