import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import cliProgress from 'cli-progress';
import type { BenchContext, Scenario, ScenarioResult, WorkloadName } from './scenario.ts';
import { renderChart } from './chart.ts';
import type { OfferedRate } from './open-loop.ts';
import { makeWorkload } from './workload.ts';
import type { FailoverRow } from './failover.ts';
import type { ScalingRow } from './scaling.ts';
import { probeServices, type Services } from './services.ts';
import { targetLines } from './targets.ts';

/** Every scenario `shardline bench` knows, in the order it runs them. */
export const SCENARIO_NAMES = [
  'direct-apply',
  'naive-bounded-queue',
  'shardline-memory',
  'redis-naive-rmw',
  'redis-lock',
  'bullmq-job-per-command',
  'shardline-bullmq',
  'kafkajs-raw',
  'shardline-kafka',
  'python-manager-dict',
  'reads-under-writes',
] as const;

export interface BenchOptions {
  /** Scenario names to run; all when absent. */
  readonly scenarios?: readonly string[];
  readonly workloads: readonly WorkloadName[];
  readonly commands: number;
  readonly accounts: number;
  /** Where to write the JSON report. */
  readonly json?: string;
  /** Producer processes of the BullMQ and Kafka scenarios; 0 sends from the measuring process. */
  readonly producerProcesses: number;
  /** `--rate`: also run each shardline scenario as an open loop at this offered load. */
  readonly rate?: OfferedRate;
  /**
   * Rounds per workload: each round runs every scenario once, so a noisy moment hits
   * all of them alike; results are medians, and targets compare scenarios round by round.
   */
  readonly repeats?: number;
  /** Show a progress bar (stdout is a terminal). */
  readonly progress: boolean;
  /** Prints one line of the human report. */
  readonly print: (line: string) => void;
}

/** One line of the JSON report: medians over the rounds (worst lost/duplicates). */
export interface BenchResult extends Required<Omit<ScenarioResult, 'notes'>> {
  readonly workload: WorkloadName;
  /** Commands/s of each round, in order (one entry without `--repeat`). */
  readonly runs: readonly number[];
  readonly notes?: ScenarioResult['notes'];
  /** With `--repeat`: each numeric note every round had, round by round (`notes` holds the last round's). */
  readonly noteRuns?: Readonly<Record<string, readonly number[]>>;
}

export interface BenchReport {
  readonly machine: Record<string, unknown>;
  readonly results: BenchResult[];
  readonly skipped: { scenario: string; reason: string }[];
  /** `--scaling`: applied throughput per transport, shard count and consumer processes. */
  readonly scaling?: readonly ScalingRow[];
  /** `--failover`: per transport, the time until a killed owner's shards applied again. */
  readonly failover?: readonly FailoverRow[];
}

/** Loads `./scenarios/<name>.ts`; an unknown name is a usage error naming the known ones. */
export async function loadScenario(name: string): Promise<Scenario> {
  if (!(SCENARIO_NAMES as readonly string[]).includes(name)) {
    throw new RangeError(`unknown scenario ${JSON.stringify(name)}; expected one of ${SCENARIO_NAMES.join(', ')}`);
  }
  const module = (await import(`./scenarios/${name}.ts`)) as { scenario: Scenario };
  return module.scenario;
}

/**
 * Runs the chosen scenarios one after another on the same workloads, prints a table and
 * the target ratios (each against a baseline measured in this same run), and writes the
 * JSON report. Exit code 1 when a scenario the user named explicitly had to be skipped.
 */
export async function runBench(options: BenchOptions): Promise<{ report: BenchReport; exitCode: number }> {
  const explicit = options.scenarios !== undefined;
  const names = options.scenarios ?? SCENARIO_NAMES;
  const scenarios = await Promise.all(names.map(loadScenario));
  const services = await probeServices(scenarios.flatMap((s) => s.needs));
  const skipped: BenchReport['skipped'] = [];
  const runnable = scenarios.filter((scenario) => {
    const missing = scenario.needs.filter((need) => services[need] === undefined);
    if (missing.length > 0) skipped.push({ scenario: scenario.name, reason: missing.map((m) => services.why[m]).join('; ') });
    return missing.length === 0;
  });
  for (const { scenario, reason } of skipped) options.print(`skipped ${scenario}: ${reason}`);

  const results: BenchResult[] = [];
  const repeats = options.repeats ?? 1;
  for (const workloadName of options.workloads) {
    const workload = makeWorkload(workloadName, options.commands, options.accounts);
    const rounds = new Map<string, ScenarioResult[]>();
    for (let round = 1; round <= repeats; round++) {
      for (const scenario of runnable) {
        const label = `${scenario.name} ${workloadName}${repeats > 1 ? ` ${round}/${repeats}` : ''}`;
        const bar = options.progress ? new cliProgress.SingleBar({ format: `${label} [{bar}] {percentage}% {value}/{total}`, clearOnComplete: true }, cliProgress.Presets.shades_classic) : undefined;
        bar?.start(workload.commands, 0);
        const context: BenchContext = {
          workload,
          producerProcesses: options.producerProcesses,
          ...(options.rate === undefined ? {} : { rate: options.rate }),
          progress: (done) => bar?.update(Math.min(done, workload.commands)),
          ...(services.redis === undefined ? {} : { redisUrl: services.redis }),
          ...(services.kafka === undefined ? {} : { kafkaBrokers: services.kafka }),
        };
        const outcome = await scenario.run(context);
        bar?.stop();
        for (const result of Array.isArray(outcome) ? outcome : [outcome as ScenarioResult]) {
          const name = result.name ?? scenario.name;
          rounds.set(name, [...(rounds.get(name) ?? []), result]);
          options.print(row(name, workloadName, result, repeats > 1 ? ` [round ${round}/${repeats}]` : ''));
        }
      }
    }
    for (const [name, runs] of rounds) results.push(summarize(name, workloadName, runs));
  }

  const report: BenchReport = { machine: await machine(services), results, skipped };
  options.print('');
  printTable(results, options.print);
  const targets = targetLines(results);
  if (targets.length > 0) {
    options.print('');
    options.print(`targets (${repeats > 1 ? `median of ${repeats} round-by-round ratios` : 'ratios within this run'}):`);
    for (const line of targets) options.print(`  ${line}`);
  }
  if (options.json !== undefined) {
    const chart = options.json.replace(/\.json$/i, '') + '.svg';
    await writeFile(options.json, `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(chart, renderChart(report));
    options.print(`\nwrote ${options.json} and ${chart}`);
  }
  return { report, exitCode: explicit && skipped.length > 0 ? 1 : 0 };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function row(name: string, workload: WorkloadName, r: ScenarioResult, suffix: string): string {
  return `${name} (${workload})${suffix}: ${Math.round(r.commandsPerSec).toLocaleString('en-US')} commands/s, lost ${r.lostUpdates}, duplicates ${r.duplicates}, p50 ${round(r.p50Ms)} ms, p99 ${round(r.p99Ms)} ms, p99.9 ${round(r.p999Ms)} ms`;
}

/** The middle value (mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** One scenario's rounds as one line: median speed and latency, worst anomalies. */
function summarize(name: string, workload: WorkloadName, runs: readonly ScenarioResult[]): BenchResult {
  const rates = runs.map((r) => Math.round(r.commandsPerSec));
  const notes = runs[runs.length - 1]!.notes;
  const numeric = Object.keys(notes ?? {}).filter((key) => runs.every((r) => typeof r.notes?.[key] === 'number'));
  const noteRuns = runs.length > 1 && numeric.length > 0 ? Object.fromEntries(numeric.map((key) => [key, runs.map((r) => r.notes![key] as number)])) : undefined;
  return {
    name,
    workload,
    commandsPerSec: Math.round(median(rates)),
    lostUpdates: Math.max(...runs.map((r) => r.lostUpdates)),
    duplicates: Math.max(...runs.map((r) => r.duplicates)),
    p50Ms: round(median(runs.map((r) => r.p50Ms))),
    p99Ms: round(median(runs.map((r) => r.p99Ms))),
    p999Ms: round(median(runs.map((r) => r.p999Ms))),
    runs: rates,
    ...(notes === undefined ? {} : { notes }),
    ...(noteRuns === undefined ? {} : { noteRuns }),
  };
}

function printTable(results: readonly BenchResult[], print: (line: string) => void): void {
  const header = ['scenario', 'workload', 'commands/s', 'lost', 'dups', 'p50 ms', 'p99 ms', 'p99.9 ms', 'vs redis-lock'];
  const lock = (workload: string) => results.find((r) => r.name === 'redis-lock' && r.workload === workload);
  const rows = results.map((r) => {
    const baseline = lock(r.workload);
    return [
      r.name,
      r.workload,
      r.commandsPerSec.toLocaleString('en-US'),
      String(r.lostUpdates),
      String(r.duplicates),
      String(r.p50Ms),
      String(r.p99Ms),
      String(r.p999Ms),
      baseline === undefined ? '-' : `${(r.commandsPerSec / baseline.commandsPerSec).toFixed(2)}x`,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const format = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  print(format(header));
  for (const cells of rows) print(format(cells));
}

/** The machine a report's numbers came from, with the versions of the services it reached. */
export async function machine(services: Services): Promise<Record<string, unknown>> {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    redis: services.redisVersion ?? null,
    kafka: services.kafka?.join(',') ?? null,
    date: new Date().toISOString(),
  };
}
