import { SingleBar } from 'cli-progress';

/** A progress display that may or may not draw anything. */
export interface Progress {
  update(done: number): void;
  stop(): void;
}

/**
 * A progress bar for long runs, drawn only when `stream` (stdout) is a terminal, so piped
 * output never holds bar redraws; otherwise it does nothing. Results are printed after
 * `stop()`, and logs go to stderr.
 */
export function createProgress(total: number, label: string, stream: NodeJS.WriteStream = process.stdout): Progress {
  if (!stream.isTTY || total <= 0) return { update() {}, stop() {} };
  const bar = new SingleBar({
    format: `${label} [{bar}] {percentage}% | {value}/{total} | {eta_formatted} left`,
    stream,
    hideCursor: true,
    clearOnComplete: false,
    noTTYOutput: false,
  });
  bar.start(total, 0);
  let stopped = false;
  return {
    update(done: number) {
      if (!stopped) bar.update(done);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}
