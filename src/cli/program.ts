// Every command's module is imported when that command runs, not here: `shardline --help`
// and each command load only what they use (bullmq, kafkajs, prom-client, pino, zod...).
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import type { BenchFlags } from './commands/bench.ts';
import type { RedriveRequest } from './commands/dead-letters.ts';
import { addGatewayFlags } from './commands/gateway-flags.ts';
import { addConfigFlags, configFrom, CONSUMER_FLAGS, DASHBOARD_FLAGS, PRODUCER_FLAGS, SENDING_FLAGS } from '../config/flags.ts';
import { describeError } from '../process/describe-error.ts';
import { EXIT_CODES_HELP, ExitCode, exitCodeOf } from '../process/exit-codes.ts';

/** Where the CLI writes; tests pass their own. */
export interface CliIo {
  readonly env: NodeJS.ProcessEnv;
  out(text: string): void;
  err(text: string): void;
}

const processIo: CliIo = {
  env: process.env,
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** Where the CLI reads `send --stdin` from; tests pass their own. */
export interface CliInput {
  readonly stdin: NodeJS.ReadableStream;
}

interface DemoFlags {
  readonly transfers?: number;
  readonly durationMs?: number;
  readonly producers?: number;
  readonly seed?: number;
  readonly json?: boolean;
}

/** The given keys of `object` that are set. */
function pick<T extends object, K extends keyof T>(object: T, keys: readonly K[]): Partial<Pick<T, K>> {
  return Object.fromEntries(keys.filter((key) => object[key] !== undefined).map((key) => [key, object[key]])) as Partial<Pick<T, K>>;
}

function positiveInt(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0) throw new InvalidArgumentError(`expected a positive integer, got ${JSON.stringify(value)}`);
  return number;
}

function nonNegativeInt(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) throw new InvalidArgumentError(`expected an integer >= 0, got ${JSON.stringify(value)}`);
  return number;
}

interface DeadLetterFlags {
  readonly limit: number;
  readonly json?: boolean;
  readonly requeue?: string | true;
  readonly discard?: string | true;
  readonly all?: boolean;
  readonly type?: string;
  readonly shard?: number;
  readonly by?: string;
}

/** The redrive the flags of `dead-letters` ask for, `undefined` for a listing; `fail` (never returns) on a combination that cannot work. */
function redriveRequest(options: DeadLetterFlags, fail: (message: string) => never): RedriveRequest | undefined {
  if (options.requeue !== undefined && options.discard !== undefined) fail('expected --requeue or --discard, got both');
  const action = options.requeue !== undefined ? 'requeue' : options.discard !== undefined ? 'discard' : undefined;
  const filtered = options.type !== undefined || options.shard !== undefined;
  if (action === undefined) {
    if (options.all === true || filtered || options.by !== undefined) fail('expected --all, --type, --shard and --by only with --requeue or --discard');
    return undefined;
  }
  const id = options[action];
  const by = options.by === undefined ? {} : { by: options.by };
  if (typeof id === 'string') {
    if (options.all === true || filtered) fail(`expected --${action} <id> or --${action} --all [--type T] [--shard N], got an id with --all/--type/--shard`);
    return { action, selection: { id }, ...by };
  }
  if (options.all !== true) fail(`expected --${action} <id> or --${action} --all, got --${action} alone`);
  return { action, selection: { all: true, ...(options.type === undefined ? {} : { type: options.type }), ...(options.shard === undefined ? {} : { shard: options.shard }) }, ...by };
}

/** Builds the `shardline` command; `exit` receives the exit code of the subcommand that ran. */
export function buildProgram(io: CliIo, exit: (code: number) => void, input: CliInput = { stdin: process.stdin }): Command {
  const program = new Command('shardline')
    .description('Coordinate work by message passing instead of locks: keyed commands, bounded queues, one owner per shard.')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', EXIT_CODES_HELP);

  addConfigFlags(
    program
      .command('consumer')
      .description('run an owner of the configured domain (--domain accounts, or ./your-domain.js): apply the commands of the shards it is granted until SIGTERM/SIGINT'),
    CONSUMER_FLAGS,
  ).addHelpText('after', EXIT_CODES_HELP).action(async (_options, command: Command) => {
    const { consumerCommand } = await import('./commands/consumer.ts');
    exit(await consumerCommand(await configFrom(command, io.env, CONSUMER_FLAGS), io.env.SHARDLINE_DASHBOARD_TOKEN));
  });

  addConfigFlags(
    program
      .command('producer')
      .description('send random accounts transfers (or 1-cent deposits) at a configurable rate and count; prints a JSON summary (any domain: use send)'),
    PRODUCER_FLAGS,
  ).addHelpText('after', EXIT_CODES_HELP).action(async (_options, command: Command) => {
    const { producerCommand } = await import('./commands/producer.ts');
    exit(await producerCommand(await configFrom(command, io.env, PRODUCER_FLAGS)));
  });

  addConfigFlags(
    program
      .command('send')
      .description("send one command of the configured domain and print its receipt (--request: its reply), or with --stdin every NDJSON line {\"type\",\"key\",\"payload\"}")
      .argument('[type]', 'command type')
      .argument('[key]', 'entity key')
      .argument('[json]', 'payload as JSON (default {})')
      .option('--request', 'wait for the reply and print it; a business rejection exits 5')
      .option('--stdin', 'read NDJSON commands from standard input, no faster than the queues accept; prints a summary (accepted, refused lines with number and reason) as the last line')
      .option('--in-flight <commands>', 'with --stdin: sends awaiting their enqueue before reading pauses', positiveInt, 1024)
      .addHelpText('after', '\nsend serves /metrics on a free port unless metrics.port is configured (or --no-metrics).'),
    SENDING_FLAGS,
  ).addHelpText('after', EXIT_CODES_HELP).action(async (type: string | undefined, key: string | undefined, json: string | undefined, options: { request?: boolean; stdin?: boolean; inFlight: number }, command: Command) => {
    if (options.stdin === true && (type !== undefined || options.request === true)) {
      command.error('error: expected either <type> <key> [json] (with or without --request) or --stdin alone', { exitCode: ExitCode.usage });
    }
    const { sendCommand } = await import('./commands/send.ts');
    const args = [type, key, json].filter((arg): arg is string => arg !== undefined);
    const request = { args, request: options.request === true, stdin: options.stdin === true, inFlight: options.inFlight };
    // A free port unless configured: a send beside a consumer on the same host must not collide with its 9464.
    const config = await configFrom(command, io.env, SENDING_FLAGS, { metrics: { port: 0 } });
    exit(await sendCommand(config, request, input.stdin, (line) => io.out(`${line}\n`)));
  });

  addConfigFlags(
    program
      .command('get')
      .description('read one entity of the configured domain (its state, or --query a query) without entering its queue, and print it as JSON with the shard position and epoch it reflects')
      .argument('<key>', 'entity key')
      .option('--query <name>', 'a query of the domain (default: the entity\'s state)')
      .option('--params <json>', 'the query\'s params as JSON (default {})')
      .option('--after <receipt>', 'wait until the command behind this receipt (the after of send) is committed: read your own write')
      .option('--consistency <level>', 'committed (default: the shared store\'s last commit) or owner (asked of the shard\'s owner, in order with its commands)')
      .option('--timeout-ms <ms>', 'longest wait for --after or for the owner (default 10000)', positiveInt),
  ).addHelpText('after', EXIT_CODES_HELP).action(async (key: string, options: { query?: string; params?: string; after?: string; consistency?: string; timeoutMs?: number }, command: Command) => {
    const { getCommand } = await import('./commands/get.ts');
    const config = await configFrom(command, io.env, [], { metrics: { enabled: false } });
    exit(await getCommand(config, { key, ...options }, (line) => io.out(`${line}\n`)));
  });

  addGatewayFlags(
    addConfigFlags(
      program
        .command('gateway')
        .description('serve POST /v1/{domain}/{type}/{key} (JSON payload) so services in any language can send commands (202, or 200 with the reply for ?wait=true), and GET /v1/{domain}/{key} and /v1/{domain}/{query}/{key} to read'),
    ),
  ).addHelpText('after', EXIT_CODES_HELP).action(async (_options, command: Command) => {
    const { gatewayConfigFrom, runGateway } = await import('./commands/gateway.ts');
    const { config, settings } = await gatewayConfigFrom(command, io.env);
    exit(await runGateway(config, settings));
  });

  addConfigFlags(
    program
      .command('inspect')
      .description('per shard: owner (member, host, pid, epoch, since), store epoch, depth, capacity, last applied position, dead letters (use a shared transport and store; --domain takes the name or the module)')
      .option('--json', 'print the report as one JSON object'),
  ).addHelpText('after', EXIT_CODES_HELP).action(async (options: { json?: boolean }, command: Command) => {
    const { formatInspect, inspect } = await import('./commands/inspect.ts');
    const report = await inspect(await configFrom(command, io.env));
    io.out(`${options.json ? JSON.stringify(report) : formatInspect(report)}\n`);
    exit(ExitCode.ok);
  });

  addConfigFlags(
    program
      .command('dead-letters')
      .description('list the newest dead letters of the domain (kept across processes by the redis store), each with its id; or requeue or discard them')
      .option('--limit <count>', 'how many to list', positiveInt, 20)
      .option('--json', 'print them (or what --requeue/--discard did) as one JSON object')
      .option('--requeue [id]', 'send the letter of this id (shard-position) again through the normal bounded enqueue, applied once however often requeued; with --all every pending letter')
      .option('--discard [id]', 'mark the letter of this id (or with --all every pending letter) discarded')
      .option('--all', 'with --requeue or --discard: every letter nobody requeued or discarded yet')
      .option('--type <type>', 'with --all: only letters of this command type')
      .option('--shard <n>', 'with --all: only letters of this shard', nonNegativeInt)
      .option('--by <name>', 'who is recorded as having requeued or discarded (default user@host)'),
  ).addHelpText('after', EXIT_CODES_HELP).action(async (options: DeadLetterFlags, command: Command) => {
    const { formatDeadLetters, formatRedrive, listDeadLetters, redriveDeadLetters } = await import('./commands/dead-letters.ts');
    const config = await configFrom(command, io.env);
    const request = redriveRequest(options, (message) => command.error(`error: ${message}`, { exitCode: ExitCode.usage }));
    if (request === undefined) {
      const result = await listDeadLetters(config, options.limit);
      io.out(`${options.json ? JSON.stringify(result) : formatDeadLetters(result)}\n`);
    } else {
      const result = await redriveDeadLetters(config, request);
      io.out(`${options.json ? JSON.stringify(result) : formatRedrive(result)}\n`);
    }
    exit(ExitCode.ok);
  });

  addConfigFlags(
    program
      .command('dashboard')
      .description('serve the dashboard page (owners, water levels, throughput, dead letters with requeue/discard) of the configured domain on 127.0.0.1:9465 until SIGTERM/SIGINT; redrive needs env SHARDLINE_DASHBOARD_TOKEN'),
    DASHBOARD_FLAGS,
  ).addHelpText('after', EXIT_CODES_HELP).action(async (_options, command: Command) => {
    const { dashboardCommand } = await import('./commands/dashboard.ts');
    exit(await dashboardCommand(await configFrom(command, io.env, DASHBOARD_FLAGS), io.env.SHARDLINE_DASHBOARD_TOKEN));
  });

  addConfigFlags(
    program
      .command('demo')
      .description('the accounts demo in one process (memory transport): concurrent random transfers, then a summary; serves /metrics')
      .option('--transfers <count>', 'transfers to send (default 200000)', positiveInt)
      .option('--duration-ms <ms>', 'send for this long instead of a fixed count (to watch the metrics)', positiveInt)
      .option('--producers <tasks>', 'concurrent producer tasks (default 512)', positiveInt)
      .option('--seed <n>', 'random seed (default 7)', positiveInt)
      .option('--json', 'print the summary as one JSON object on the last stdout line'),
  ).addHelpText('after', EXIT_CODES_HELP).action(async (options: DemoFlags, command: Command) => {
    const config = await configFrom(command, io.env);
    const { shards, capacity } = config.transport.options as { shards?: number; capacity?: number };
    const demo = {
      ...pick(options, ['transfers', 'durationMs', 'producers', 'seed']),
      ...(shards === undefined ? {} : { shards }),
      ...(capacity === undefined ? {} : { capacity }),
    };
    const { runDemoCommand } = await import('./commands/demo.ts');
    exit(await runDemoCommand(config, demo, options.json === true));
  });

  program
    .command('bench')
    .description('run named scenarios one after another on the same workload and compare them (locks vs message passing)')
    .option('--scenarios <a,b>', 'scenarios to run (default: all whose services are reachable)')
    .option('--workload <name>', 'uniform, hot or both', 'both')
    .option('--commands <count>', 'commands per scenario and workload')
    .option('--accounts <count>', 'accounts of the uniform workload')
    .option('--producer-processes <count>', 'send the BullMQ and Kafka workloads from this many child processes (default 0: from the measuring process; the memory transport cannot cross processes, its scenarios always send in-process)')
    .option('--rate <commands/s|N%>', 'also run each shardline scenario as an open loop at this offered load, commands/s or a percentage of its maximum measured in the same run; reports p50/p99/p99.9 from the scheduled send times')
    .option('--repeat <rounds>', 'rounds per workload, each running every scenario once: results are medians, targets the median of round-by-round ratios (default 1)')
    .option('--json <file>', 'write the JSON report here')
    .option('--scaling', 'measure BullMQ and Kafka applied throughput against shards (1, 2, 4, 8) and consumer processes (1, 2), after the --scenarios named (none by default); --commands is deposits per run (default 20000)')
    .option('--failover', 'SIGKILL one of two owner processes mid-run, per transport (BullMQ, Kafka), and report the time until its shards apply again, duplicates skipped and lost/duplicated commands; --commands is per transport (default 20000), --rate the steady send rate (default 2000/s)')
    .addHelpText('after', `\nREDIS_URL and KAFKA_BROKERS name the services scenarios need.${EXIT_CODES_HELP}`)
    .action(async (options: BenchFlags) => {
      const { bench } = await import('./commands/bench.ts');
      exit(await bench(options));
    });

  return program;
}

/**
 * Runs the `shardline` command line and resolves with its exit code: usage errors and
 * invalid configuration print every problem and give 2, unreachable services 3, other
 * failures 1 (see `--help`).
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let code: number = ExitCode.ok;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    io.err(`shardline: ${describeError(error)}\n`);
    return exitCodeOf(error);
  }
}
