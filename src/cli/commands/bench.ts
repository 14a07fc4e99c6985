import { writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { parseChecked } from '../../config/issues.ts';
import { coerce } from '../../config/load.ts';
import { machine, runBench, SCENARIO_NAMES, type BenchOptions, type BenchReport } from '../../bench/run.ts';
import { runFailover } from '../../bench/failover.ts';
import { runScaling } from '../../bench/scaling.ts';
import { probeServices } from '../../bench/services.ts';

const list = (value: string | undefined) => value?.split(',').map((s) => s.trim()).filter(Boolean);

/** The `shardline bench` flags, checked once. */
const benchFlagsSchema = z.strictObject({
  scenarios: z.array(z.enum(SCENARIO_NAMES)).min(1).optional(),
  workload: z.enum(['uniform', 'hot', 'both']).default('both'),
  commands: z.number().int().positive().default(100_000),
  accounts: z.number().int().positive().default(10_000),
  producerProcesses: z.number().int().min(0).max(64).default(0),
  rate: z.union([z.strictObject({ perSec: z.number().positive().finite() }), z.strictObject({ percentOfMax: z.number().positive().max(100) })]).optional(),
  repeat: z.number().int().positive().max(20).default(1),
  json: z.string().min(1).optional(),
  scaling: z.boolean().default(false),
  failover: z.boolean().default(false),
}).refine((flags) => !flags.failover || flags.rate === undefined || 'perSec' in flags.rate, {
  path: ['rate'],
  message: 'expected commands/s with --failover (a steady send rate), got a percentage',
});

/** `--rate` as written: `2000` (commands/s) or `50%` (of the scenario's maximum in the same run). */
function parseRate(value: string | undefined): unknown {
  if (value === undefined) return undefined;
  const text = value.trim();
  return text.endsWith('%') ? { percentOfMax: Number(text.slice(0, -1)) } : { perSec: Number(text) };
}

/** Deposits per scaling run unless `--commands` says otherwise: each run is several processes, so a smaller count keeps the whole sweep to minutes. */
const SCALING_COMMANDS = 20_000;
/** Commands per transport of a failover run, and their steady rate, unless `--commands` and `--rate` say otherwise: 10 s of load, killed at 5 s. */
const FAILOVER_COMMANDS = 20_000;
const FAILOVER_RATE_PER_SEC = 2_000;

/** The raw flags as commander parsed them. */
export interface BenchFlags {
  readonly scenarios?: string;
  readonly workload?: string;
  readonly commands?: string;
  readonly accounts?: string;
  readonly producerProcesses?: string;
  readonly repeat?: string;
  readonly json?: string;
  readonly scaling?: boolean;
  readonly rate?: string;
  readonly failover?: boolean;
}

/**
 * `shardline bench`: validates the flags (every wrong one reported, exit 2) and runs the
 * scenarios; exit 1 when a scenario named explicitly had to be skipped. `--scaling` runs
 * the scaling sweep instead (after the scenarios, when `--scenarios` names some) and adds
 * its rows to the JSON report under `scaling`; exit 1 when a part of it was skipped or failed.
 */
export async function bench(flags: BenchFlags): Promise<number> {
  const options = parseChecked(benchFlagsSchema, {
    scenarios: list(flags.scenarios),
    workload: flags.workload,
    commands: coerce(flags.commands),
    accounts: coerce(flags.accounts),
    producerProcesses: coerce(flags.producerProcesses),
    repeat: coerce(flags.repeat),
    json: flags.json,
    scaling: flags.scaling,
    rate: parseRate(flags.rate),
    failover: flags.failover,
  }, ['bench']);
  const print = (line: string) => process.stdout.write(`${line}\n`);
  const benchOptions: BenchOptions = {
    ...(options.scenarios === undefined ? {} : { scenarios: options.scenarios }),
    workloads: options.workload === 'both' ? ['uniform', 'hot'] : [options.workload],
    commands: options.commands,
    accounts: options.accounts,
    producerProcesses: options.producerProcesses,
    repeats: options.repeat,
    ...(options.rate === undefined ? {} : { rate: options.rate }),
    ...(options.json === undefined ? {} : { json: options.json }),
    progress: process.stdout.isTTY === true,
    print,
  };
  if (options.failover) {
    const failoverRate = options.rate !== undefined && 'perSec' in options.rate ? options.rate.perSec : FAILOVER_RATE_PER_SEC;
    const failoverCommands = flags.commands === undefined ? FAILOVER_COMMANDS : options.commands;
    return benchFailover(options.scenarios === undefined ? undefined : { ...benchOptions, rate: undefined }, { commands: failoverCommands, ratePerSec: failoverRate, json: options.json, print });
  }
  if (!options.scaling) return (await runBench(benchOptions)).exitCode;
  const scalingCommands = flags.commands === undefined ? SCALING_COMMANDS : options.commands;
  return benchScaling(options.scenarios === undefined ? undefined : benchOptions, { commands: scalingCommands, json: options.json, print });
}

/** The scenarios named (if any), then the scaling sweep; its rows are added to the JSON report the scenarios wrote, or to a new one. */
async function benchScaling(
  scenarios: BenchOptions | undefined,
  { commands, json, print }: { commands: number; json: string | undefined; print: (line: string) => void },
): Promise<number> {
  const before = scenarios === undefined ? undefined : await runBench(scenarios);
  if (before !== undefined) print('');
  const scaling = await runScaling({ commands, print });
  if (json !== undefined) {
    const base: BenchReport = before?.report ?? { machine: await machine(scaling.services), results: [], skipped: [] };
    const report: BenchReport = { ...base, skipped: [...base.skipped, ...scaling.skipped], scaling: scaling.rows };
    await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
    print(`\nwrote the scaling rows to ${json}`);
  }
  return Math.max(before?.exitCode ?? 0, scaling.exitCode);
}

/** The scenarios named (if any), then the failover runs; their rows are added to the JSON report under `failover`. */
async function benchFailover(
  scenarios: BenchOptions | undefined,
  { commands, ratePerSec, json, print }: { commands: number; ratePerSec: number; json: string | undefined; print: (line: string) => void },
): Promise<number> {
  const before = scenarios === undefined ? undefined : await runBench(scenarios);
  if (before !== undefined) print('');
  const failover = await runFailover({ commands, ratePerSec, print });
  if (json !== undefined) {
    const base: BenchReport = before?.report ?? { machine: await machine(await probeServices(['redis', 'kafka'])), results: [], skipped: [] };
    const report: BenchReport = { ...base, skipped: [...base.skipped, ...failover.skipped], failover: failover.rows };
    await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
    print(`\nwrote the failover rows to ${json}`);
  }
  return Math.max(before?.exitCode ?? 0, failover.exitCode);
}
