import { z } from 'zod';
import { parseChecked } from '../../config/issues.ts';
import { coerce } from '../../config/load.ts';
import { runBench, SCENARIO_NAMES } from '../bench/run.ts';

const list = (value: string | undefined) => value?.split(',').map((s) => s.trim()).filter(Boolean);

/** The `shardline bench` flags, checked once. */
const benchFlagsSchema = z.strictObject({
  scenarios: z.array(z.enum(SCENARIO_NAMES)).min(1).optional(),
  workload: z.enum(['uniform', 'hot', 'both']).default('both'),
  commands: z.number().int().positive().default(100_000),
  accounts: z.number().int().positive().default(10_000),
  producerProcesses: z.number().int().positive().max(64).default(2),
  json: z.string().min(1).optional(),
});

/** The raw flags as commander parsed them. */
export interface BenchFlags {
  readonly scenarios?: string;
  readonly workload?: string;
  readonly commands?: string;
  readonly accounts?: string;
  readonly producerProcesses?: string;
  readonly json?: string;
}

/**
 * `shardline bench`: validates the flags (every wrong one reported, exit 2) and runs the
 * scenarios; exit 1 when a scenario named explicitly had to be skipped.
 */
export async function bench(flags: BenchFlags): Promise<number> {
  const options = parseChecked(benchFlagsSchema, {
    scenarios: list(flags.scenarios),
    workload: flags.workload,
    commands: coerce(flags.commands),
    accounts: coerce(flags.accounts),
    producerProcesses: coerce(flags.producerProcesses),
    json: flags.json,
  }, ['bench']);
  const { exitCode } = await runBench({
    ...(options.scenarios === undefined ? {} : { scenarios: options.scenarios }),
    workloads: options.workload === 'both' ? ['uniform', 'hot'] : [options.workload],
    commands: options.commands,
    accounts: options.accounts,
    producerProcesses: options.producerProcesses,
    ...(options.json === undefined ? {} : { json: options.json }),
    progress: process.stdout.isTTY === true,
    print: (line) => process.stdout.write(`${line}\n`),
  });
  return exitCode;
}
