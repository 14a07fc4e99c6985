import { randomBytes } from 'node:crypto';
import { connect } from 'nats';
import { silentLogger, type Transport } from '../../src/index.ts';
import type { ConformanceOptions } from '../../src/testing/index.ts';
import { NatsTransport } from './index.ts';

/**
 * How the conformance suite runs this transport against the server `url()` names (asked
 * per check, so a server started later can be used): one stream and bucket per check.
 */
export function natsConformance(url: () => string): ConformanceOptions {
  return {
    name: 'nats jetstream',
    async setup() {
      const prefix = `c${randomBytes(4).toString('hex')}`;
      const options = {
        servers: url(),
        prefix,
        shards: 4,
        capacity: 16,
        // A lease lapses 3 s after its holder's last renewal; members heartbeat every 250 ms,
        // so a hand-over on close() (one heartbeat) and one by expiry (3 s) tell apart.
        leaseTtlMs: 3_000,
        heartbeatMs: 250,
        retryDelayMs: 20,
        pollIntervalMs: 50,
        revokeTimeoutMs: 500,
        storage: 'memory' as const,
      };
      return {
        create: () => new NatsTransport(options, { domain: 'conformance', logger: silentLogger }),
        async dispose() {
          const nc = await connect({ servers: url() });
          const jsm = await nc.jetstreamManager();
          await Promise.allSettled([jsm.streams.delete(`${prefix}_conformance`), jsm.streams.delete(`KV_${prefix}_conformance_owners`)]);
          await nc.close();
        },
      };
    },
    crash: (transport: Transport) => (transport as NatsTransport).crash(),
    // Hand-over takes about two heartbeats; the margin is for a CI machine busy with other suites.
    handOverTimeoutMs: 15_000,
    // Below the lease TTL: a member that closed must not leave its leases to lapse.
    closeHandOverTimeoutMs: 2_000,
  };
}
