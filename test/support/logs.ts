import type { Logger } from '../../src/common/logger.ts';

/** One line a {@link recordingLogger} kept. */
export interface LogLine {
  readonly level: string;
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

/** A logger that keeps every line in `lines`, to count what a component logged at each level. */
export function recordingLogger(lines: LogLine[]): Logger {
  const at = (level: string) => (fields: object, message?: string) => void lines.push({ level, message: message ?? '', fields: fields as Record<string, unknown> });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
