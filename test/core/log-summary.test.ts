import { describe, expect, it } from 'vitest';
import { summarizeRepeats } from '../../src/common/log-summary.ts';
import type { Logger } from '../../src/common/logger.ts';

/** A logger that keeps every line it is given. */
function recording() {
  const lines: { level: string; object: Record<string, unknown>; message: string | undefined }[] = [];
  const at = (level: string) => (object: object, message?: string) => {
    lines.push({ level, object: object as Record<string, unknown>, message });
  };
  const logger: Logger = { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') };
  return { logger, lines };
}

describe('summarizeRepeats', () => {
  it('logs the first warning of a cause, counts its repeats, and says how many once the interval is over', () => {
    const { logger, lines } = recording();
    let clock = 0;
    const log = summarizeRepeats(logger, { intervalMs: 10_000, now: () => clock });
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
    for (let i = 0; i < 260; i++) {
      clock += 25_000 / 260;
      log.warn({ shard: i % 8, err: refused }, 'redis call failed; retrying');
    }
    log.close();
    const warnings = lines.filter((line) => line.level === 'warn');
    // 25 s of one cause with a 10 s interval: the first, a summary and a new first at 10 s and
    // at 20 s, and the summary of the last stretch.
    expect(warnings.length).toBeLessThanOrEqual(6);
    const repeats = warnings.reduce((sum, line) => sum + (typeof line.object.repeats === 'number' ? line.object.repeats : 1), 0);
    expect(repeats).toBe(260);
    const summary = warnings.find((line) => line.object.repeats !== undefined)!;
    expect(summary.message).toMatch(/^redis call failed; retrying \(repeated \d+ times in the last \d+ s\)$/);
    expect(summary.object.err).toEqual({ name: 'Error', message: 'connect ECONNREFUSED 127.0.0.1:6379', code: 'ECONNREFUSED' });
  });

  it('keeps different causes apart and lets info and debug through', () => {
    const { logger, lines } = recording();
    const log = summarizeRepeats(logger, { now: () => 0 });
    log.warn({ err: Object.assign(new Error('a'), { code: 'ECONNREFUSED' }) }, 'redis call failed');
    log.warn({ err: Object.assign(new Error('b'), { code: 'ETIMEDOUT' }) }, 'redis call failed');
    log.error({}, 'redis call failed');
    log.warn({ err: Object.assign(new Error('c'), { code: 'ECONNREFUSED' }) }, 'redis call failed');
    for (let i = 0; i < 3; i++) log.info({ i }, 'shard gained');
    log.debug({}, 'detail');
    log.close();
    expect(lines.map((line) => `${line.level} ${line.message}`)).toEqual([
      'warn redis call failed',
      'warn redis call failed',
      'error redis call failed',
      'info shard gained',
      'info shard gained',
      'info shard gained',
      'debug detail',
      'warn redis call failed (repeated 1 times in the last 1 s)',
    ]);
  });
});
