import { randomBytes } from 'node:crypto';
import { connect, NatsError, type JetStreamManager, type NatsConnection, type StreamConfig } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Names } from './names.ts';
import { natsAvailable, startNatsServer, type NatsServer } from './nats-server.ts';
import { parseNatsTransportOptions } from './options.ts';
import { ShardLog } from './shard-log.ts';

let server: NatsServer | undefined;
let nc: NatsConnection | undefined;
beforeAll(async () => {
  if (!natsAvailable()) return;
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
});
afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

/** `jsm` whose next `lost` stream adds time out as a lost reply would: after (`landed`) or instead of reaching the server. */
function losingAdds(jsm: JetStreamManager, lost: number, landed: boolean): { jsm: JetStreamManager; adds: () => number } {
  let adds = 0;
  const add = async (config: Partial<StreamConfig>) => {
    adds++;
    if (adds > lost) return jsm.streams.add(config);
    if (landed) await jsm.streams.add(config);
    throw NatsError.errorForCode('TIMEOUT');
  };
  const streams = new Proxy(jsm.streams, { get: (target, name) => (name === 'add' ? add : Reflect.get(target, name)) });
  return { jsm: new Proxy(jsm, { get: (target, name) => (name === 'streams' ? streams : Reflect.get(target, name)) }), adds: () => adds };
}

describe.skipIf(!natsAvailable())('nats stream setup', () => {
  const setup = async (lost: number, landed: boolean) => {
    const prefix = `s${randomBytes(4).toString('hex')}`;
    const names = new Names(prefix, 'setup');
    const settings = parseNatsTransportOptions({ servers: server!.url, prefix, shards: 2, capacity: 16, storage: 'memory' }, 'setup');
    const jsm = await nc!.jetstreamManager();
    const losing = losingAdds(jsm, lost, landed);
    return { names, jsm, losing, log: new ShardLog(losing.jsm, nc!.jetstream(), names, settings) };
  };

  it('finds the stream its timed-out add made, and checks it like any other', async () => {
    const { names, jsm, losing, log } = await setup(1, true);
    await log.ensureStream();
    expect(losing.adds()).toBe(1);
    expect((await jsm.streams.info(names.stream)).config.description).toContain('"shards":2');
  });

  it('adds again when the timed-out add never reached the server', async () => {
    const { names, jsm, losing, log } = await setup(1, false);
    await log.ensureStream();
    expect(losing.adds()).toBe(2);
    expect((await jsm.streams.info(names.stream)).config.subjects).toEqual([names.shardWildcard]);
  });

  it('gives up with a ConnectionError naming the stream when every add times out', async () => {
    const { names, losing, log } = await setup(Infinity, false);
    await expect(log.ensureStream()).rejects.toThrow(`JetStream stream ${names.stream}`);
    expect(losing.adds()).toBe(3);
  });
});
