import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChildGroup, lastLines, readyMetricsPort, scrape, sleep, type CliChild } from './scaling-children.ts';
import { isolateDatabase, prepareTopic, removeTopic, type IsolatedDatabase } from './scaling-services.ts';
import { probeServices, type Services } from './services.ts';

/** One measured point: applied throughput of `consumers` processes owning `shards` shards. */
export interface ScalingRow {
  readonly transport: ScalingTransport;
  /** Shards (Kafka: partitions) the run actually had, which for Kafka may differ from the count asked for. */
  readonly shards: number;
  readonly consumers: number;
  /** Deposits applied per second by all consumers together, from the first to the last change of their applied counters. */
  readonly commandsPerSec: number;
  /** Deposits the consumers applied with outcome ok. */
  readonly applied: number;
  /** Deposits the producer had accepted; anything but `applied` is a loss or a duplicate. */
  readonly accepted: number;
}

/** The transports whose scaling is measured. */
export type ScalingTransport = (typeof TRANSPORTS)[number];

/** What `shardline bench --scaling` is given. */
export interface ScalingOptions {
  /** Deposits the producer sends per run. */
  readonly commands: number;
  /** Prints one line of the human report. */
  readonly print: (line: string) => void;
}

/** The rows, what could not run and why; `exitCode` is 1 when anything was skipped, failed or lost commands. */
export interface ScalingOutcome {
  readonly rows: ScalingRow[];
  readonly skipped: { scenario: string; reason: string }[];
  /** What was reachable, for the report's machine section. */
  readonly services: Services;
  readonly exitCode: number;
}

/** Shard counts with one consumer, then consumer counts at {@link WIDE_SHARDS} shards. */
const SHARD_COUNTS = [1, 2, 4, 8] as const;
const CONSUMER_COUNTS = [1, 2] as const;
const WIDE_SHARDS = 8;
/** Accounts the deposits go to: enough that every shard of 8 gets a fair share. */
const ACCOUNTS = 1_000;
/** Concurrent sends in the producer: far more than a linger batch, so the queues, not the producer's tasks, set the pace. */
const PRODUCER_TASKS = 1_024;
/** Per-shard bound, as in config/bullmq.json and config/kafka.json. */
const CAPACITY = 4_096;
/**
 * Group timings for the Kafka owners: the smallest session a default broker accepts
 * (`group.min.session.timeout.ms` is 6 s), so that the 2-consumer rebalance is short.
 */
const KAFKA_GROUP = { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500, rebalanceTimeoutMs: 6_000 } as const;
/** Producer batching as in the shipped configs of each transport. */
const PRODUCER_SETTINGS: Record<ScalingTransport, { lingerMs: number; maxBatch: number }> = {
  bullmq: { lingerMs: 2, maxBatch: 256 },
  kafka: { lingerMs: 5, maxBatch: 512 },
};
const READY_TIMEOUT_MS = 45_000;
const SETTLE_TIMEOUT_MS = 60_000;
/** Ownership must hold still this long (longer than a BullMQ lease tick, ~1.7 s) before the load starts. */
const SETTLE_STABLE_MS = 3_000;
const PRODUCER_TIMEOUT_MS = 120_000;
/** The drain fails when the applied counter has not moved for this long after the producer finished... */
const DRAIN_STALL_MS = 20_000;
/** ...or when it is still moving this long after the producer's time limit. */
const DRAIN_TIMEOUT_MS = 60_000;
/** Scrape period while ownership settles. */
const SETTLE_SAMPLE_MS = 100;
/** Scrape period while the load runs: short, since a fast run applies everything in a few hundred milliseconds. */
const SAMPLE_MS = 50;

const TRANSPORTS = ['bullmq', 'kafka'] as const;

/** What the sweep has found so far. */
interface Sweep {
  readonly rows: ScalingRow[];
  /** Kafka partition counts asked for but not given: the count given (and why) → the counts asked. */
  readonly shortfalls: Map<string, number[]>;
  /** A run failed or did not apply exactly what was accepted. */
  failed: boolean;
}

/** One run: C consumers and a producer on a fresh namespace with `shards` shards. */
interface Run {
  readonly transport: ScalingTransport;
  readonly shards: number;
  readonly consumers: number;
  readonly redisUrl: string;
  readonly brokers?: readonly string[];
  /** BullMQ key prefix, or Kafka topic prefix: new for every run, so no run sees another's commands. */
  readonly namespace: string;
}

/** What a run saw besides its row. */
interface Measured {
  readonly row: ScalingRow;
  readonly owned: readonly number[];
  readonly producerPerSec: number;
  /** The time between the first and the last change of the applied counter. */
  readonly windowMs: number;
}

/**
 * `shardline bench --scaling`: for BullMQ and Kafka, deposits applied per second against
 * shard count (1, 2, 4, 8) with one consumer process, and against consumer processes
 * (1, 2) at 8 shards. Every run starts real `shardline consumer` processes sharing the
 * Redis store and one `shardline producer` that sends `commands` deposits as fast as the
 * queues accept, reads the consumers' `/metrics`, and checks applied == accepted.
 * A Kafka broker that cannot create a topic with the wanted partition count (the kcat
 * mock gives every topic 4) is measured at the count it gives, and the report says so.
 */
export async function runScaling(options: ScalingOptions): Promise<ScalingOutcome> {
  const { print } = options;
  const services = await probeServices(['redis', 'kafka']);
  const skipped = unreachable(services);
  const sweep: Sweep = { rows: [], shortfalls: new Map(), failed: false };
  const group = new ChildGroup();
  const dir = await mkdtemp(join(tmpdir(), 'shardline-scaling-'));
  let database: IsolatedDatabase | undefined;
  const release = group.guard(async () => {
    await database?.close();
    await rm(dir, { recursive: true, force: true });
  });
  try {
    if (services.redis !== undefined) {
      try {
        database = await isolateDatabase(services.redis);
        print(`scaling: ${options.commands.toLocaleString('en-US')} deposits per run; the consumers' Redis store and BullMQ queues use database ${database.index} (was empty; flushed after every run)`);
      } catch (error) {
        for (const transport of TRANSPORTS) {
          if (!skipped.some((s) => s.scenario === `scaling/${transport}`)) skipped.push({ scenario: `scaling/${transport}`, reason: (error as Error).message });
        }
      }
    }
    for (const { scenario, reason } of skipped) print(`skipped ${scenario}: ${reason}`);
    for (const transport of TRANSPORTS.filter((t) => !skipped.some((s) => s.scenario === `scaling/${t}`))) {
      const measured = new Set<string>();
      for (const point of plan()) {
        try {
          await measurePoint({ transport, ...point }, { database: database!, brokers: services.kafka, group, dir, commands: options.commands, print }, measured, sweep);
        } catch (error) {
          sweep.failed = true;
          print(`scaling ${transport} ${point.shards} shards × ${point.consumers}: failed: ${(error as Error).message}`);
        }
      }
    }
  } finally {
    release();
    await group.killAll();
    await database?.close();
    await rm(dir, { recursive: true, force: true });
  }
  const notes = [...sweep.shortfalls].map(([given, asked]) => `kafka: asked for ${asked.join(', ')} partitions, the broker gave ${given}; those points were measured at the partitions it gave`);
  printTable(sweep.rows, notes, print);
  return { rows: sweep.rows, skipped, services, exitCode: sweep.failed || skipped.length > 0 ? 1 : 0 };
}

/** What is unreachable, per transport: BullMQ needs Redis; Kafka needs Kafka and Redis (the store the consumers share). */
function unreachable(services: Services): ScalingOutcome['skipped'] {
  const skipped: ScalingOutcome['skipped'] = [];
  if (services.redis === undefined) skipped.push({ scenario: 'scaling/bullmq', reason: services.why.redis });
  if (services.redis === undefined || services.kafka === undefined) {
    const reasons = [services.redis === undefined ? `${services.why.redis} (the consumers' shared store)` : '', services.kafka === undefined ? services.why.kafka : ''];
    skipped.push({ scenario: 'scaling/kafka', reason: reasons.filter(Boolean).join('; ') });
  }
  return skipped;
}

/**
 * Measures one point, unless the broker maps it onto a point measured already (Kafka at
 * the partition count it gives); every child is killed and the run's data removed after.
 */
async function measurePoint(
  point: { transport: ScalingTransport; shards: number; consumers: number },
  context: { database: IsolatedDatabase; brokers: readonly string[] | undefined; group: ChildGroup; dir: string; commands: number; print: (line: string) => void },
  measured: Set<string>,
  sweep: Sweep,
): Promise<void> {
  const { transport, consumers } = point;
  const namespace = `shardline-scaling-${process.pid}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const plural = consumers === 1 ? 'consumer' : 'consumers';
  let topic: string | undefined;
  try {
    let shards = point.shards;
    if (transport === 'kafka') {
      topic = `${namespace}.accounts`;
      const prepared = await prepareTopic(context.brokers!, topic, point.shards);
      shards = prepared.partitions;
      if (shards !== point.shards) {
        const given = `${shards}${prepared.why === undefined ? '' : ` (creating the topic failed: ${prepared.why})`}`;
        sweep.shortfalls.set(given, [...new Set([...(sweep.shortfalls.get(given) ?? []), point.shards])]);
      }
    }
    if (measured.has(`${shards}x${consumers}`)) {
      const gave = shards === point.shards ? '' : `the broker gave ${shards} partitions; `;
      context.print(`scaling ${transport} ${point.shards} shards × ${consumers} ${plural}: ${gave}${shards} × ${consumers} already measured above`);
      return;
    }
    measured.add(`${shards}x${consumers}`);
    const run: Run = {
      transport,
      shards,
      consumers,
      redisUrl: context.database.url,
      ...(transport === 'kafka' ? { brokers: context.brokers!, namespace: `${namespace}.` } : { namespace }),
    };
    const { row, owned, producerPerSec, windowMs } = await measure(run, context.commands, context.group, context.dir);
    sweep.rows.push(row);
    const mismatch = row.applied === row.accepted ? '' : ` — MISMATCH: ${row.accepted - row.applied} of the accepted deposits not applied exactly once`;
    if (mismatch !== '') sweep.failed = true;
    context.print(
      `scaling ${transport} ${shards} shards × ${consumers} ${plural}: ${row.commandsPerSec.toLocaleString('en-US')} commands/s applied over ${windowMs} ms, ` +
        `${row.applied.toLocaleString('en-US')} applied of ${row.accepted.toLocaleString('en-US')} accepted (producer accepted ${producerPerSec.toLocaleString('en-US')}/s; shards owned ${owned.join('+')})${mismatch}`,
    );
  } finally {
    await context.group.killAll();
    await context.database.flush().catch((error: unknown) => context.print(`scaling: could not flush Redis database ${context.database.index}: ${(error as Error).message}`));
    if (topic !== undefined) await removeTopic(context.brokers!, topic);
  }
}

/** The points to measure: the shard sweep with one consumer, then the consumer sweep at {@link WIDE_SHARDS} (its 1-consumer point is the sweep's last). */
function plan(): { shards: number; consumers: number }[] {
  const points = SHARD_COUNTS.map((shards) => ({ shards, consumers: 1 }));
  for (const consumers of CONSUMER_COUNTS) {
    if (!points.some((p) => p.shards === WIDE_SHARDS && p.consumers === consumers)) points.push({ shards: WIDE_SHARDS, consumers });
  }
  return points;
}

async function measure(run: Run, commands: number, group: ChildGroup, dir: string): Promise<Measured> {
  const file = join(dir, `${run.namespace.replace(/\.$/, '')}.json`);
  await writeFile(file, JSON.stringify(configOf(run, commands)));
  const consumers = Array.from({ length: run.consumers }, (_, i) => group.start(`consumer ${i + 1}`, ['consumer', '-c', file]));
  const ports = await Promise.all(consumers.map((consumer) => readyMetricsPort(consumer, READY_TIMEOUT_MS)));
  const owned = await settle(run, consumers, ports);

  const samples: { at: number; applied: number }[] = [];
  const sample = async () => {
    for (const consumer of consumers) {
      if (consumer.gone()) throw new Error(`${consumer.name} exited (${consumer.process.exitCode ?? consumer.process.signalCode}): ${lastLines(consumer.stderr())}`);
    }
    const applied = (await Promise.all(ports.map((port) => scrape(port, 'deposit')))).reduce((sum, s) => sum + s.applied, 0);
    samples.push({ at: performance.now(), applied });
    return applied;
  };
  await sample();
  const producer = group.start('producer', ['producer', '-c', file, '--no-metrics', '--log-level', 'warn']);
  let summary: { accepted: number; commandsPerSec: number } | undefined;
  let producerError: Error | undefined;
  void producerSummary(producer).then((s) => (summary = s), (error: Error) => (producerError = error));
  let lastChange = Date.now();
  const deadline = Date.now() + PRODUCER_TIMEOUT_MS + DRAIN_TIMEOUT_MS;
  for (;;) {
    await sleep(SAMPLE_MS);
    if (producerError !== undefined) throw producerError;
    if (Date.now() > deadline) throw new Error(`the consumers did not apply what the producer accepted within ${(PRODUCER_TIMEOUT_MS + DRAIN_TIMEOUT_MS) / 1000} s`);
    const before = samples[samples.length - 1]!.applied;
    const applied = await sample();
    if (applied !== before) lastChange = Date.now();
    if (summary !== undefined && applied >= summary.accepted) break;
    if (summary !== undefined && Date.now() - lastChange > DRAIN_STALL_MS) {
      throw new Error(`applied stuck at ${applied} of ${summary.accepted} accepted for ${DRAIN_STALL_MS / 1000} s`);
    }
  }
  await sleep(5 * SAMPLE_MS);
  const finalApplied = (await Promise.all(ports.map((port) => scrape(port, 'deposit')))).reduce((sum, s) => sum + s.applied, 0);
  const rate = appliedRate(samples);
  return {
    row: { transport: run.transport, shards: run.shards, consumers: run.consumers, commandsPerSec: Math.round(rate.perSec), applied: finalApplied, accepted: summary!.accepted },
    owned,
    producerPerSec: Math.round(summary!.commandsPerSec),
    windowMs: Math.round(rate.windowMs),
  };
}

/** The configuration of every process of `run`: shared store, fresh namespace, deposits. */
function configOf(run: Run, commands: number): Record<string, unknown> {
  const options = run.transport === 'bullmq'
    ? { shards: run.shards, capacity: CAPACITY, prefix: run.namespace }
    : { shards: run.shards, capacity: CAPACITY, topicPrefix: run.namespace, ...KAFKA_GROUP };
  return {
    domain: 'accounts',
    transport: { kind: run.transport, options },
    store: { kind: 'redis' },
    replies: { kind: 'memory' },
    redis: { url: run.redisUrl },
    ...(run.brokers === undefined ? {} : { kafka: { brokers: run.brokers, clientId: 'shardline-bench-scaling' } }),
    producer: PRODUCER_SETTINGS[run.transport],
    metrics: { host: '127.0.0.1', port: 0 },
    log: { level: 'info' },
    shutdown: { timeoutMs: 5_000 },
    load: { mix: 'deposits', count: commands, ratePerSec: 0, concurrency: PRODUCER_TASKS, accounts: ACCOUNTS },
  };
}

/**
 * Waits until the consumers own every shard between them and nobody's share has changed
 * for {@link SETTLE_STABLE_MS}, so a rebalance does not fall into the measurement; returns
 * each consumer's share.
 */
async function settle(run: Run, consumers: readonly CliChild[], ports: readonly number[]): Promise<number[]> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  let shares: number[] = [];
  let since = Date.now();
  for (;;) {
    for (const consumer of consumers) {
      if (consumer.gone()) throw new Error(`${consumer.name} exited while taking its shards: ${lastLines(consumer.stderr())}`);
    }
    const now = (await Promise.all(ports.map((port) => scrape(port, 'deposit')))).map((s) => s.owned);
    if (now.join() !== shares.join()) since = Date.now();
    shares = now;
    const total = shares.reduce((a, b) => a + b, 0);
    if (total === run.shards && Date.now() - since >= SETTLE_STABLE_MS) return shares;
    if (Date.now() > deadline) throw new Error(`the consumers did not settle on ${run.shards} shards within ${SETTLE_TIMEOUT_MS / 1000} s (owned ${shares.join('+')})`);
    await sleep(SETTLE_SAMPLE_MS);
  }
}

/** The producer's JSON summary once it exits 0 within {@link PRODUCER_TIMEOUT_MS}. */
async function producerSummary(producer: CliChild): Promise<{ accepted: number; commandsPerSec: number }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), PRODUCER_TIMEOUT_MS);
  });
  const code = await Promise.race([producer.exited, late]);
  clearTimeout(timer);
  if (code === 'late') throw new Error(`the producer did not finish within ${PRODUCER_TIMEOUT_MS / 1000} s`);
  if (code !== 0) throw new Error(`the producer exited with ${code}: ${lastLines(producer.stderr())}`);
  const last = producer.stdout().trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as { accepted: number; commandsPerSec: number };
  } catch {
    throw new Error(`expected the producer's JSON summary as its last stdout line, got ${JSON.stringify(last.slice(0, 200))}`);
  }
}

/**
 * Applied per second between the first and the last change of the summed counter: the
 * time before the first command arrives and after the last is applied is not the owners'.
 * When everything landed within one sample, the interval before it stands in.
 */
function appliedRate(samples: readonly { at: number; applied: number }[]): { perSec: number; windowMs: number } {
  const start = samples[0]!.applied;
  const final = samples[samples.length - 1]!.applied;
  const first = samples.findIndex((s) => s.applied !== start);
  if (first < 0) return { perSec: 0, windowMs: 0 };
  const last = samples.findIndex((s) => s.applied === final);
  const [from, to] = last > first ? [samples[first]!, samples[last]!] : [samples[first - 1]!, samples[first]!];
  const windowMs = to.at - from.at;
  return { perSec: (to.applied - from.applied) / (windowMs / 1000), windowMs };
}

function printTable(rows: readonly ScalingRow[], notes: readonly string[], print: (line: string) => void): void {
  if (rows.length === 0) return;
  print('');
  print(`scaling (deposits applied per second by the consumers, from their /metrics sampled every ${SAMPLE_MS} ms):`);
  const header = ['transport', 'shards', 'consumers', 'commands/s', 'applied', 'accepted'];
  const cells = rows.map((r) => [r.transport, String(r.shards), String(r.consumers), r.commandsPerSec.toLocaleString('en-US'), r.applied.toLocaleString('en-US'), r.accepted.toLocaleString('en-US')]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const format = (line: string[]) => line.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  print(format(header));
  for (const line of cells) print(format(line));
  print("note: one producer process feeds every run; where a run's commands/s is close to the producer's accepted rate (printed per run), the producer set the pace and the owners' capacity is higher");
  for (const note of notes) print(`note: ${note}`);
}
