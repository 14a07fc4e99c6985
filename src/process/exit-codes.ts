import { ConfigError, ConnectionError, InvalidCommandError, InvalidReadError, Rejected } from '../core/errors.ts';

/**
 * The exit codes every shardline process uses (the `shardline` commands and
 * `runConsumer`/`runProducer`), so scripts can rely on them. A process stopped by a
 * second signal exits with 128 + the signal number (130 for SIGINT, 143 for SIGTERM), as
 * shells do.
 */
export const ExitCode = {
  /** Finished, or stopped by a signal and shut down cleanly. */
  ok: 0,
  /** Failed while running (a command failed, a store refused, an unexpected error), or some commands were refused. */
  failure: 1,
  /** Bad usage, invalid configuration, an invalid command or read; nothing was sent or read. */
  usage: 2,
  /** A broker or store could not be reached. */
  unavailable: 3,
  /** A graceful shutdown did not finish within `shutdown.timeoutMs` of the signal. */
  shutdownTimeout: 4,
  /** The command was applied and its handler rejected it (`ctx.reject`): `shardline send --request`. */
  rejected: 5,
} as const;

/** The `--help` text that lists the exit codes. */
export const EXIT_CODES_HELP = `
Exit codes:
  0    finished, or stopped by SIGTERM/SIGINT and shut down cleanly
  1    runtime failure, or (send) a command was refused
  2    bad usage, invalid configuration, an invalid command or read (every wrong field is listed; nothing was sent)
  3    a broker or store could not be reached
  4    graceful shutdown did not finish within shutdown.timeoutMs of the signal
  5    send --request: the handler rejected the command (a business rejection, printed as JSON)
  130  second SIGINT: stopped at once (143 for a second SIGTERM)`;

/** The exit code an error ends a process with. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof ConfigError || error instanceof InvalidCommandError || error instanceof InvalidReadError) return ExitCode.usage;
  if (error instanceof ConnectionError) return ExitCode.unavailable;
  if (error instanceof Rejected) return ExitCode.rejected;
  return ExitCode.failure;
}
