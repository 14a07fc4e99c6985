import { randomBytes } from 'node:crypto';
import { openRedis } from '../common/redis.ts';
import { Producer } from '../runtime/producer.ts';
import { RedisStateStore } from '../state/redis-store.ts';
import { buildTransport, startBenchChild, type BenchChild, type TransportSpec } from './bench-child.ts';
import { counters } from './counter-domain.ts';
import { runOpenLoop } from './open-loop.ts';
import { sleep } from './scaling-children.ts';
import { cleanup } from './scenarios/redis-kit.ts';
import { probeServices } from './services.ts';
import { countAnomalies, expectedCounts, makeWorkload } from './workload.ts';

/** One transport's failover: how long the killed owner's shards stood still, and the audit. */
export interface FailoverRow {
  readonly transport: 'bullmq' | 'kafka';
  readonly shards: number;
  /** Shards the killed owner held. */
  readonly killedShards: readonly number[];
  /** From the SIGKILL until the survivor applied a batch on the first, and on the last, of them. */
  readonly firstMs: number;
  readonly failoverMs: number;
  /** The goal: lease TTL + 1 s (BullMQ), session timeout + 2 s (Kafka). */
  readonly goalMs: number;
  readonly goalSetting: string;
  /** Redelivered commands the survivor skipped because their effect was committed already. */
  readonly duplicatesSkipped: number;
  readonly commands: number;
  readonly ratePerSec: number;
  readonly lostUpdates: number;
  readonly duplicates: number;
}

export interface FailoverOptions {
  /** Commands sent per transport, at `ratePerSec`; the owner is killed halfway. */
  readonly commands: number;
  readonly ratePerSec: number;
  readonly print: (line: string) => void;
}

const SHARDS = 8;
const CAPACITY = 4096;
const LEASE_TTL_MS = 5_000;
/** The smallest session a default broker accepts (`group.min.session.timeout.ms` is 6 s). */
const KAFKA_GROUP = { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500, rebalanceTimeoutMs: 6_000 } as const;
const READY_TIMEOUT_MS = 60_000;
/** Ownership must hold still this long (longer than a BullMQ lease tick) before the load starts. */
const SETTLE_STABLE_MS = 3_000;
const SETTLE_TIMEOUT_MS = 60_000;
/** How long the counters may take to reach the expected values after the last send. */
const DRAIN_TIMEOUT_MS = 60_000;

/** A transport's setup: what the owners and the producer build, and the failover goal. */
interface Setup {
  readonly transport: FailoverRow['transport'];
  readonly spec: TransportSpec;
  readonly goalMs: number;
  readonly goalSetting: string;
}

/**
 * `shardline bench --failover`: per transport (BullMQ; Kafka, which also needs Redis for
 * the shared store), two owner processes share the shards; the bench sends `commands` at
 * a steady `ratePerSec` and SIGKILLs the owner of shard 0 halfway. Reported: the time from
 * the kill until the survivor applied a batch on each of the killed owner's shards, the
 * redelivered commands it skipped as duplicates, and lost/duplicated increments in the
 * store. The memory transport has no processes to kill: n/a.
 */
export async function runFailover(options: FailoverOptions): Promise<{ rows: FailoverRow[]; skipped: { scenario: string; reason: string }[]; exitCode: number }> {
  const { print } = options;
  const services = await probeServices(['redis', 'kafka']);
  const skipped: { scenario: string; reason: string }[] = [];
  const setups: Setup[] = [];
  const namespace = `shardline-bench-failover-${randomBytes(4).toString('hex')}`;
  print('failover/memory: n/a (the memory transport lives in one process: there is no owner process to kill)');
  if (services.redis === undefined) skipped.push({ scenario: 'failover/bullmq', reason: services.why.redis });
  else {
    const options = { url: services.redis, prefix: `${namespace}-bullmq`, domain: counters.name, shards: SHARDS, capacity: CAPACITY, leaseTtlMs: LEASE_TTL_MS };
    setups.push({ transport: 'bullmq', spec: { kind: 'bullmq', options }, goalMs: LEASE_TTL_MS + 1_000, goalSetting: `lease TTL ${LEASE_TTL_MS} ms + 1 s` });
  }
  if (services.redis === undefined || services.kafka === undefined) {
    skipped.push({ scenario: 'failover/kafka', reason: [services.redis === undefined ? `${services.why.redis} (the owners' shared store)` : '', services.why.kafka].filter(Boolean).join('; ') });
  } else {
    const options = { brokers: [...services.kafka], topicPrefix: `${namespace}.`, capacity: CAPACITY, maxWaitTimeMs: 100, clientId: 'bench-failover', ...KAFKA_GROUP };
    setups.push({ transport: 'kafka', spec: { kind: 'kafka', options, context: { domain: counters.name } }, goalMs: KAFKA_GROUP.sessionTimeoutMs + 2_000, goalSetting: `session timeout ${KAFKA_GROUP.sessionTimeoutMs} ms + 2 s` });
  }
  for (const { scenario, reason } of skipped) print(`skipped ${scenario}: ${reason}`);
  const rows: FailoverRow[] = [];
  let failed = false;
  for (const setup of setups) {
    try {
      const row = await measureFailover(setup, services.redis!, `${namespace}-${setup.transport}-store`, options);
      rows.push(row);
      const met = row.failoverMs <= row.goalMs && row.lostUpdates === 0 && row.duplicates === 0;
      if (!met) failed = true;
      print(
        `failover/${row.transport}: killed the owner of shards ${row.killedShards.join(',')} of ${row.shards}; applying again after ${row.firstMs} ms (first) / ${row.failoverMs} ms (all), ` +
          `goal <= ${row.goalMs} ms (${row.goalSetting}): ${row.failoverMs <= row.goalMs ? 'met' : 'NOT met'}; ${row.duplicatesSkipped} redelivered commands skipped as duplicates; ` +
          `${row.lostUpdates} lost, ${row.duplicates} duplicates of ${row.commands} at ${row.ratePerSec}/s: ${row.lostUpdates === 0 && row.duplicates === 0 ? 'met' : 'NOT met'}`,
      );
    } catch (error) {
      failed = true;
      print(`failover/${setup.transport}: failed: ${(error as Error).message}`);
    }
  }
  return { rows, skipped, exitCode: failed || skipped.length > 0 ? 1 : 0 };
}

/** One transport: two owner processes, a steady open-loop producer here, a SIGKILL halfway, then the audit. */
async function measureFailover(setup: Setup, redisUrl: string, storePrefix: string, options: FailoverOptions): Promise<FailoverRow> {
  const workload = makeWorkload('uniform', options.commands, 1_000);
  const owners = [startBenchChild('owner-child', `${setup.transport} owner 1`), startBenchChild('owner-child', `${setup.transport} owner 2`)];
  const owned = owners.map(() => new Set<number>());
  const applying: { shard: number; at: number }[][] = owners.map(() => []);
  const duplicates = owners.map(() => 0);
  owners.forEach((owner, i) =>
    owner.listen((message) => {
      if (message.type === 'ownership') {
        if (message.event === 'gained') owned[i]!.add(Number(message.shard));
        else owned[i]!.delete(Number(message.shard));
      } else if (message.type === 'applying') applying[i]!.push({ shard: Number(message.shard), at: Number(message.at) });
      else if (message.type === 'counts' || message.type === 'stopped') duplicates[i] = Number(message.duplicates);
    }),
  );
  const client = await openRedis(redisUrl, 'bench-failover');
  const transport = buildTransport(setup.spec);
  const producer = new Producer({ domain: counters, transport, lingerMs: 1 });
  try {
    const ready = owners.map((owner) => owner.next('ready', READY_TIMEOUT_MS));
    for (const owner of owners) owner.send({ type: 'start', transport: setup.spec, redisUrl, prefix: storePrefix });
    await Promise.all(ready);
    const { shardCount } = await transport.connect();
    await producer.connect();
    await settle(owned, shardCount);

    const victim = owned[0]!.has(0) ? 0 : 1;
    let killedAt = 0;
    let killedShards: number[] = [];
    let killing: Promise<void> | undefined;
    await runOpenLoop({
      ratePerSec: options.ratePerSec,
      count: workload.commands,
      send(i) {
        if (i === workload.commands >> 1) {
          killedShards = [...owned[victim]!].sort((a, b) => a - b);
          killedAt = Date.now();
          killing = owners[victim]!.kill();
        }
        return producer.send('add', workload.keyOf(i), { by: 1 });
      },
    });
    await killing;

    const store = new RedisStateStore({ client, prefix: storePrefix, domain: counters.name });
    const expected = expectedCounts(workload);
    const deadline = Date.now() + DRAIN_TIMEOUT_MS;
    let audit = { lostUpdates: workload.commands, duplicates: 0 };
    for (;;) {
      const actual = new Map<string, number>();
      for await (const [key, state] of store.entries()) actual.set(key, (state as { value: number }).value);
      audit = countAnomalies(expected, actual);
      if (audit.lostUpdates === 0 || Date.now() > deadline) break;
      await sleep(250);
    }
    const survivor = owners[1 - victim]!;
    const stopped = survivor.next('stopped', READY_TIMEOUT_MS);
    survivor.send({ type: 'stop' });
    await stopped;

    const resumed = killedShards.map((shard) => applying[1 - victim]!.find((a) => a.shard === shard && a.at >= killedAt)?.at);
    if (resumed.some((at) => at === undefined)) throw new Error(`the surviving owner never applied shards ${killedShards.filter((_, i) => resumed[i] === undefined).join(',')} after the kill`);
    const waits = resumed.map((at) => at! - killedAt);
    return {
      transport: setup.transport,
      shards: shardCount,
      killedShards,
      firstMs: Math.min(...waits),
      failoverMs: Math.max(...waits),
      goalMs: setup.goalMs,
      goalSetting: setup.goalSetting,
      duplicatesSkipped: duplicates[0]! + duplicates[1]!,
      commands: workload.commands,
      ratePerSec: options.ratePerSec,
      ...audit,
    };
  } finally {
    await Promise.all(owners.map((owner) => owner.kill()));
    await producer.close();
    await transport.close();
    await cleanup(client, storePrefix);
    if (setup.spec.kind === 'bullmq') await cleanup(client, setup.spec.options.prefix!);
    client.disconnect();
  }
}

/** Waits until both owners hold shards, together all of them, and nothing changed for {@link SETTLE_STABLE_MS}. */
async function settle(owned: readonly Set<number>[], shardCount: number): Promise<void> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  let last = '';
  let since = Date.now();
  for (;;) {
    const now = owned.map((set) => [...set].sort((a, b) => a - b).join(',')).join('|');
    if (now !== last) [last, since] = [now, Date.now()];
    const total = owned.reduce((sum, set) => sum + set.size, 0);
    if (total === shardCount && owned.every((set) => set.size > 0) && Date.now() - since >= SETTLE_STABLE_MS) return;
    if (Date.now() > deadline) throw new Error(`the two owners did not settle on ${shardCount} shards within ${SETTLE_TIMEOUT_MS / 1000} s (they own ${last})`);
    await sleep(100);
  }
}
