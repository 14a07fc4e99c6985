import { CommanderError } from 'commander';
import type { AnyDomain } from '../core/domain.ts';
import { addConfigFlags, configFrom, type ConfigFlag } from '../config/flags.ts';
import { loadConfig } from '../config/load.ts';
import type { Config, ConfigInput } from '../config/schema.ts';
import { describeError } from './describe-error.ts';
import { ExitCode, exitCodeOf } from './exit-codes.ts';

/** What `runConsumer` and `runProducer` are told: the domain, and where the configuration comes from. */
export interface ProcessOptions<D extends AnyDomain> {
  /** The domain this process serves (its `config.domain` is not consulted). */
  readonly domain: D;
  /**
   * Configuration given in code, shaped like a config file (`{ transport: { kind: 'bullmq' } }`):
   * over the defaults, under the config file, the environment and the flags.
   */
  readonly config?: ConfigInput;
  /**
   * Command-line flags to read, the same as the `shardline` command's (`--transport`,
   * `--metrics-port`, `--config`, ...): pass `process.argv.slice(2)`. Not read when absent.
   */
  readonly argv?: readonly string[];
  /**
   * Environment to read (`SHARDLINE_*`, `REDIS_URL`, `KAFKA_BROKERS`, and `SHARDLINE_CONFIG`
   * naming a config file): pass `process.env`. Not read when absent.
   */
  readonly env?: NodeJS.ProcessEnv;
}

/** Layers `options.config`, then the file, the environment and the flags that `options` asks for. */
export async function configOf(options: ProcessOptions<AnyDomain>, name: string, extra: readonly ConfigFlag[] = []): Promise<Config> {
  const base = (options.config ?? {}) as Record<string, unknown>;
  const env = options.env ?? {};
  if (options.argv === undefined) return loadConfig({ base, env });
  const { Command } = await import('commander');
  const command = addConfigFlags(new Command(name).exitOverride().allowExcessArguments(false), extra);
  command.parse([...options.argv], { from: 'user' });
  return configFrom(command, env, extra, base);
}

/**
 * Runs a process body and turns what it throws into the documented exit code, printing
 * the error on stderr (`--help` given in `argv` prints the help and gives 0).
 */
export async function withExitCode(body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    process.stderr.write(`shardline: ${describeError(error)}\n`);
    return exitCodeOf(error);
  }
}
