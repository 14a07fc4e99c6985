import { randomBytes } from 'node:crypto';
import { connect, NatsError, StorageType, type JetStreamManager, type KvOptions, type NatsConnection, type StreamConfig } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Names } from './names.ts';
import { natsAvailable, startNatsServer, type NatsServer } from './nats-server.ts';
import { parseNatsTransportOptions } from './options.ts';
import { OwnershipBucket } from './ownership-bucket.ts';
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

type Add = (config: Partial<StreamConfig>) => Promise<unknown>;

/** `jsm` whose first `intercepted` stream adds go through `instead`, given the real add; later ones reach the server as they are. */
function interceptAdds(jsm: JetStreamManager, intercepted: number, instead: (config: Partial<StreamConfig>, add: Add) => Promise<unknown>) {
  let adds = 0;
  const real: Add = (config) => jsm.streams.add(config);
  const add = async (config: Partial<StreamConfig>) => (++adds > intercepted ? real(config) : instead(config, real));
  const streams = new Proxy(jsm.streams, { get: (target, name) => (name === 'add' ? add : Reflect.get(target, name)) });
  return { jsm: new Proxy(jsm, { get: (target, name) => (name === 'streams' ? streams : Reflect.get(target, name)) }), adds: () => adds };
}

/** An add that times out as a lost reply would: after (`landed`) or instead of reaching the server. */
const timingOut = (landed: boolean) => async (config: Partial<StreamConfig>, add: Add) => {
  if (landed) await add(config);
  throw NatsError.errorForCode('TIMEOUT');
};

/**
 * The interleaving two processes adding one stream can hit, made on the real server: `make`
 * is refused while a stream `other` holds `subjects`, then `other` goes and what `make`
 * makes (as the process that won would have) is what stays. Throws `make`'s refusal.
 */
async function refusedWhileAnotherMakes(jsm: JetStreamManager, other: string, subjects: string[], make: () => Promise<unknown>): Promise<never> {
  await jsm.streams.add({ name: other, subjects, storage: StorageType.Memory });
  const refused = await make().then(() => new Error(`expected the server to refuse an add over ${subjects.join(', ')}`), (error: unknown) => error);
  await jsm.streams.delete(other);
  await make();
  throw refused;
}

/** A fresh prefix's names and settings. */
function fresh() {
  const prefix = `s${randomBytes(4).toString('hex')}`;
  return { names: new Names(prefix, 'setup'), settings: parseNatsTransportOptions({ servers: server!.url, prefix, shards: 2, capacity: 16, storage: 'memory' }, 'setup') };
}

describe.skipIf(!natsAvailable())('nats stream setup', () => {
  const setup = async (intercepted = 0, instead: (config: Partial<StreamConfig>, add: Add) => Promise<unknown> = (config, add) => add(config)) => {
    const { names, settings } = fresh();
    const jsm = await nc!.jetstreamManager();
    const losing = interceptAdds(jsm, intercepted, instead);
    return { names, jsm, losing, log: new ShardLog(losing.jsm, nc!.jetstream(), names, settings) };
  };

  it('finds the stream its timed-out add made, and checks it like any other', async () => {
    const { names, jsm, losing, log } = await setup(1, timingOut(true));
    await log.ensureStream();
    expect(losing.adds()).toBe(1);
    expect((await jsm.streams.info(names.stream)).config.description).toContain('"shards":2');
  });

  it('adds again when the timed-out add never reached the server', async () => {
    const { names, jsm, losing, log } = await setup(1, timingOut(false));
    await log.ensureStream();
    expect(losing.adds()).toBe(2);
    expect((await jsm.streams.info(names.stream)).config.subjects).toEqual([names.shardWildcard]);
  });

  it('lets many processes make one new stream at once: each finds the one another made', async () => {
    const { names, settings } = fresh();
    const connections = await Promise.all(Array.from({ length: 12 }, () => connect({ servers: server!.url })));
    try {
      const logs = await Promise.all(connections.map(async (c) => new ShardLog(await c.jetstreamManager(), c.jetstream(), names, settings)));
      const results = await Promise.allSettled(logs.map((log) => log.ensureStream()));
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      const jsm = await nc!.jetstreamManager();
      expect((await jsm.streams.info(names.stream)).config.subjects).toEqual([names.shardWildcard]);
    } finally {
      await Promise.all(connections.map((c) => c.close()));
    }
  });

  it('looks again when the server says the subjects overlap while another process makes the same stream', async () => {
    const { names, jsm, losing, log } = await setup(1, (config, add) => refusedWhileAnotherMakes(jsm, `${names.stream}_other`, config.subjects!, () => add(config)));
    await log.ensureStream();
    expect(losing.adds()).toBe(1);
    expect((await jsm.streams.info(names.stream)).config.description).toContain('"shards":2');
  });

  it('refuses, naming the overlap, when a stream of another name holds the subjects', async () => {
    const { names, jsm, log } = await setup();
    await jsm.streams.add({ name: `${names.stream}_squatter`, subjects: [names.shardWildcard], storage: StorageType.Memory });
    await expect(log.ensureStream()).rejects.toThrow(`JetStream stream ${names.stream}: could not be created: subjects overlap`);
  });

  it('opens the ownership bucket when the server says its subjects overlap while another process makes it', async () => {
    const { names, settings } = fresh();
    const jsm = await nc!.jetstreamManager();
    const js = nc!.jetstream();
    let opens = 0;
    const kv = async (name: string, options: Partial<KvOptions>) => {
      if (opens++ > 0) return js.views.kv(name, options);
      return refusedWhileAnotherMakes(jsm, `${names.stream}_other`, [`$KV.${name}.>`], () => js.views.kv(name, options));
    };
    const views = new Proxy(js.views, { get: (target, name) => (name === 'kv' ? kv : Reflect.get(target, name)) });
    const raced = new Proxy(js, { get: (target, name) => (name === 'views' ? views : Reflect.get(target, name)) });
    await OwnershipBucket.open(raced, names, settings, 'member-1');
    expect(opens).toBe(2);
  });

  it('gives up with a ConnectionError naming the stream when every add times out', async () => {
    const { names, losing, log } = await setup(Infinity, timingOut(false));
    await expect(log.ensureStream()).rejects.toThrow(`JetStream stream ${names.stream}`);
    expect(losing.adds()).toBe(3);
  });
});
