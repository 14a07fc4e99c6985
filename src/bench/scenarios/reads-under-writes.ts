import { Owner } from '../../runtime/owner.ts';
import { Producer } from '../../runtime/producer.ts';
import { Reader } from '../../runtime/reader.ts';
import { RedisStateStore } from '../../state/redis-store.ts';
import { BullmqTransport } from '../../transports/bullmq/bullmq-transport.ts';
import { RedisReplyBus } from '../../transports/bullmq/redis-reply-bus.ts';
import { counters } from '../counter-domain.ts';
import { LatencyRecorder } from '../latency.ts';
import type { BenchContext, Scenario, ScenarioResult } from '../scenario.ts';
import { READERS, WRITE_RATE, expectedWrites, readWhile, rowsOf, steadyWrites, writesOf, type ReadRun } from './read-load.ts';
import { benchRedis, cleanup, plainRedis, readCounters, runPrefix } from './redis-kit.ts';
import { redisLock } from './redis-lock.ts';

const SHARDS = 8;
const CAPACITY = 4096;
const NAME = 'reads-under-writes';

/** How shardline's readers read: from the store, through the queue as a command, or as an owner read. */
type ReadPath = 'store' | 'request' | 'owner';

/** Resolves once `check` holds, polling every 10 ms for at most `timeoutMs`. */
async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`${NAME}: ${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * shardline on BullMQ with the Redis store, an owner holding every shard: the steady
 * writes (`send`, timed until applied) and, unless `path` is undefined, the readers. Write
 * latency is the owner's end to end; with `request` it includes the reads, which are
 * commands too.
 */
async function shardlineRun(context: BenchContext, path: ReadPath | undefined): Promise<ReadRun> {
  const { workload } = context;
  const url = context.redisUrl!;
  const client = await benchRedis(context, 'bench-reads');
  const prefix = runPrefix('reads');
  const domain = counters.name;
  const ownerTransport = new BullmqTransport({ url, prefix, domain, shards: SHARDS, capacity: CAPACITY });
  const clientTransport = new BullmqTransport({ url, prefix, domain, shards: SHARDS, capacity: CAPACITY });
  const store = new RedisStateStore({ client, prefix, domain });
  const writes = writesOf(workload);
  const writeLatency = new LatencyRecorder();
  const readLatency = new LatencyRecorder();
  let applied = 0;
  let allApplied!: () => void;
  const appliedAll = new Promise<void>((resolve) => (allApplied = resolve));
  const owner = new Owner({
    domain: counters,
    transport: ownerTransport,
    store,
    replies: new RedisReplyBus({ client, prefix }),
    observer: {
      applied(type, outcome, count) {
        if (type !== 'add' || outcome !== 'ok') return;
        applied += count;
        context.progress(applied);
        if (applied >= writes) allApplied();
      },
      endToEnd: (seconds) => writeLatency.record(seconds * 1000),
    },
  });
  const producer = new Producer({ domain: counters, transport: clientTransport, replies: new RedisReplyBus({ client, prefix }), lingerMs: 1 });
  const reader = new Reader({ domain: counters, transport: clientTransport, store, producer });
  const read = (key: string): Promise<unknown> => {
    if (path === 'request') return producer.request('get', key, {});
    return reader.query('value', key, {}, { consistency: path === 'owner' ? 'owner' : 'committed' });
  };
  try {
    await owner.start();
    await producer.connect();
    await reader.connect();
    await until('the owner to hold every shard', () => owner.owned().length === SHARDS, 30_000);
    const started = performance.now();
    let finished = started;
    const done = Promise.all([steadyWrites(writes, (i) => producer.send('add', workload.keyOf(i), { by: 1 }).then(() => undefined)), appliedAll]).then(() => {
      finished = performance.now();
    });
    const reads = path === undefined ? 0 : await readWhile(done, (n) => read(workload.keyOf(n % workload.commands)).then(() => undefined), readLatency);
    await done;
    const values = new Map<string, number>();
    for (const key of expectedWrites(workload, writes).keys()) values.set(key, (await reader.get(key)).value.value);
    return { writes, writeSeconds: (finished - started) / 1000, writeLatency, reads, readLatency, counters: values };
  } finally {
    await reader.close();
    await producer.close();
    await owner.close();
    await clientTransport.close();
    await ownerTransport.close();
    await cleanup(client, prefix);
    await client.quit();
  }
}

/**
 * The lock baseline: the same steady writes, each `SET NX PX` lock, GET, SET + 1, unlock
 * (as `redis-lock`), and, with `readers`, readers taking the same lock around their GET:
 * the classic answer to "many readers, one writer" without a read-write lock.
 */
async function lockRun(context: BenchContext, readers: boolean): Promise<ReadRun> {
  const { workload } = context;
  const client = await plainRedis(context, 'bench-reads-lock');
  const withLock = redisLock(client);
  const prefix = runPrefix('reads-lock');
  const writes = writesOf(workload);
  const writeLatency = new LatencyRecorder();
  const readLatency = new LatencyRecorder();
  let done = 0;
  try {
    const started = performance.now();
    let finished = started;
    const writing = steadyWrites(writes, async (i) => {
      const issued = performance.now();
      const key = `${prefix}:${workload.keyOf(i)}`;
      await withLock(key, async () => {
        const value = Number((await client.get(key)) ?? 0);
        await client.set(key, value + 1);
      });
      writeLatency.record(performance.now() - issued);
      context.progress(++done);
    }).then(() => {
      finished = performance.now();
    });
    const reads = readers
      ? await readWhile(writing, async (n) => {
          const key = `${prefix}:${workload.keyOf(n % workload.commands)}`;
          await withLock(key, async () => void (await client.get(key)));
        }, readLatency)
      : 0;
    await writing;
    const values = await readCounters(client, [...expectedWrites(workload, writes).keys()], (key) => `${prefix}:${key}`);
    return { writes, writeSeconds: (finished - started) / 1000, writeLatency, reads, readLatency, counters: values };
  } finally {
    await cleanup(client, prefix);
    await client.quit();
  }
}

/**
 * Reads under write load: a steady stream of increments on the workload's keys (hot keys
 * with `--workload hot`) while `READERS` readers read the same keys as fast as they can —
 * with a committed read from the store, with `request()` of a command that changes
 * nothing (the read through the queue a user makes without queries), with an owner read,
 * and, as the baseline, readers taking the same Redis lock as the writers. Each reading
 * run has a twin without readers, so the write rows show what the readers cost the writes.
 */
export const scenario: Scenario = {
  name: NAME,
  description: `${WRITE_RATE} writes/s offered for up to 5 s on the workload's keys, ${READERS} readers: store reads, request()-as-read, owner reads (shardline, BullMQ + Redis store, ${SHARDS} shards), and readers under the writers' Redis lock`,
  needs: ['redis'],
  async run(context) {
    const { workload } = context;
    const rows: ScenarioResult[] = [];
    rows.push(...rowsOf(workload, await shardlineRun(context, undefined), { writes: `${NAME}/writes-alone` }));
    for (const path of ['store', 'request', 'owner'] as const) {
      rows.push(...rowsOf(workload, await shardlineRun(context, path), { reads: `${NAME}/${path}-reads`, writes: `${NAME}/writes-with-${path}-reads` }));
    }
    rows.push(...rowsOf(workload, await lockRun(context, false), { writes: `${NAME}/lock-writes-alone` }));
    rows.push(...rowsOf(workload, await lockRun(context, true), { reads: `${NAME}/lock-reads`, writes: `${NAME}/lock-writes-with-reads` }));
    return rows;
  },
};
