import { pino, type Logger } from 'pino';
import type { Config } from '../config/schema.ts';

/**
 * The process logger: pino JSON lines on stderr (stdout is left to results: summaries,
 * tables, JSON), at the configured level, each line naming the process role.
 */
export function createLogger(level: Config['log']['level'], role: string): Logger {
  return pino({ level, base: { pid: process.pid, role } }, pino.destination({ dest: 2, sync: true }));
}
