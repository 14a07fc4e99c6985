import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, ConnectionError, silentLogger } from '../../src/index.ts';
import { createTransport, NatsTransport } from './index.ts';
import { natsAvailable, startNatsServer, type NatsServer } from './nats-server.ts';

const context = { domain: 'accounts', logger: silentLogger };

describe('options', () => {
  it('reports every wrong field at once, with its path and what was got', () => {
    let error: unknown;
    try {
      createTransport({ shards: 0, capacity: 'many', prefix: 'a.b', heartbeatMs: 2_000, leaseTtlMs: 3_000, colour: 'red' }, context);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues.join('\n');
    for (const field of ['shards', 'capacity', 'prefix', 'heartbeatMs']) expect(issues).toMatch(new RegExp(`^${field}: `, 'm'));
    expect(issues).toMatch(/^Unrecognized key: "colour"/m);
    expect(issues).toContain('"a.b"');
  });

  it('refuses a domain that cannot be part of a subject', () => {
    expect(() => new NatsTransport({}, { domain: 'a b', logger: silentLogger })).toThrow(ConfigError);
  });

  it('fails to connect with a ConnectionError naming the URL', async () => {
    const transport = new NatsTransport({ servers: 'nats://127.0.0.1:1', requestTimeoutMs: 500 }, context);
    await expect(transport.connect()).rejects.toThrow(ConnectionError);
    await expect(transport.connect()).rejects.toThrow(/nats:\/\/127\.0\.0\.1:1/);
    await transport.close();
  });
});

let server: NatsServer | undefined;
beforeAll(async () => {
  if (natsAvailable()) server = await startNatsServer();
});
afterAll(async () => {
  await server?.stop();
});

describe.skipIf(!natsAvailable())('agreement between processes', () => {
  it('refuses to join a stream made with another shard count or capacity', async () => {
    const prefix = `o${randomBytes(4).toString('hex')}`;
    const first = new NatsTransport({ servers: server!.url, prefix, shards: 4, capacity: 16, storage: 'memory' }, context);
    const second = new NatsTransport({ servers: server!.url, prefix, shards: 8, capacity: 16, storage: 'memory' }, context);
    try {
      expect(await first.connect()).toEqual({ shardCount: 4, capacity: 16 });
      const refusal = second.connect();
      await expect(refusal).rejects.toThrow(ConfigError);
      await expect(refusal).rejects.toThrow(/"shards":4,"capacity":16,"positions":"running-total"/);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });
});
