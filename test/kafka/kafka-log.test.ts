import { logLevel } from 'kafkajs';
import { describe, expect, it, vi } from 'vitest';
import { recordingLogger, type LogLine } from '../support/logs.ts';
import { KafkaLog } from '../../src/transports/kafka/kafka-log.ts';

const entry = (level: logLevel, namespace: string, message: string, extra: Record<string, unknown> = {}) => ({
  namespace,
  level,
  label: '',
  log: { timestamp: '', logger: 'kafkajs', message, ...extra },
});

describe('KafkaLog', () => {
  it('logs routine group traffic at debug and a repeated failure once, then one counted line per interval', () => {
    vi.useFakeTimers();
    const lines: LogLine[] = [];
    const log = new KafkaLog(recordingLogger(lines), 200);
    const write = log.logCreator();
    const warnings = () => lines.filter((line) => line.level === 'warn');
    try {
      write(entry(logLevel.WARN, 'Runner', 'The group is rebalancing, re-joining', { error: 'The group is rebalancing, so a rejoin is needed' }));
      write(entry(logLevel.ERROR, 'Connection', 'Response Heartbeat(key: 12, version: 3)', { error: 'The coordinator is not aware of this member' }));
      write(entry(logLevel.ERROR, 'Consumer', 'Crash: KafkaJSNumberOfRetriesExceeded: Connection error', { stack: 'at ...' }));
      write(entry(logLevel.INFO, 'ConsumerGroup', 'Consumer has joined the group'));
      expect(lines.map((line) => line.level)).toEqual(['debug', 'debug', 'debug', 'debug']);

      const refused = (port: number) => entry(logLevel.ERROR, 'Connection', `Connection error: connect ECONNREFUSED 127.0.0.1:${port}`, { stack: 'Error: connect ECONNREFUSED' });
      for (let port = 40_000; port < 40_050; port++) write(refused(port));
      expect(warnings()).toEqual([{ level: 'warn', message: 'Connection error: connect ECONNREFUSED 127.0.0.1:40000', fields: { kafkajs: 'Connection' } }]);
      vi.advanceTimersByTime(200);
      expect(warnings()[1]).toMatchObject({ message: 'Connection error: connect ECONNREFUSED 127.0.0.1:40000 (repeated)', fields: { repeated: 49, withinMs: 200 } });
      write(refused(40_050));
      vi.advanceTimersByTime(200);
      expect(warnings()).toHaveLength(3);
      expect(warnings()[2]!.fields).toMatchObject({ repeated: 1 });

      // Quiet for a whole interval: forgotten, so the next occurrence is logged at once.
      vi.advanceTimersByTime(400);
      write(refused(40_051));
      expect(warnings()).toHaveLength(4);
      expect(warnings()[3]!.message).toBe('Connection error: connect ECONNREFUSED 127.0.0.1:40051');
      // Every occurrence, stack and all, is still at debug.
      expect(lines.filter((line) => line.level === 'debug' && 'stack' in line.fields)).toHaveLength(1 + 52);
    } finally {
      log.close();
      vi.useRealTimers();
    }
  });
});
