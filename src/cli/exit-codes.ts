import { CommanderError } from 'commander';
import { ConfigError, ConnectionError } from '../core/errors.ts';

/**
 * The exit codes every `shardline` command uses, so scripts can rely on them. A process
 * stopped by a second signal exits with 128 + the signal number (130 for SIGINT, 143 for
 * SIGTERM), as shells do.
 */
export const ExitCode = {
  /** Finished, or stopped by a signal and shut down cleanly. */
  ok: 0,
  /** Failed while running (a command failed, a store refused, an unexpected error). */
  failure: 1,
  /** Bad usage or invalid configuration; nothing was connected or sent. */
  usage: 2,
  /** A broker or store could not be reached. */
  unavailable: 3,
  /** A graceful shutdown did not finish within `shutdown.timeoutMs`. */
  shutdownTimeout: 4,
} as const;

/** The `--help` text that lists the exit codes. */
export const EXIT_CODES_HELP = `
Exit codes:
  0    finished, or stopped by SIGTERM/SIGINT and shut down cleanly
  1    runtime failure
  2    bad usage or invalid configuration (every wrong field is listed; nothing was sent)
  3    a broker or store could not be reached
  4    graceful shutdown did not finish within shutdown.timeoutMs
  130  second SIGINT: stopped at once (143 for a second SIGTERM)`;

/** The exit code an error ends a command with. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof ConfigError) return ExitCode.usage;
  if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  if (error instanceof ConnectionError) return ExitCode.unavailable;
  return ExitCode.failure;
}
