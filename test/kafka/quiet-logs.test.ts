import { describe, expect, it } from 'vitest';
import { RecordingHandler, waitFor } from '../../src/testing/index.ts';
import { KafkaTransport } from '../../src/transports/kafka/index.ts';
import { recordingLogger, type LogLine } from '../support/logs.ts';
import { FAST_KAFKA, MOCK_PARTITIONS, startKafka, uniquePrefix } from '../support/kafka.ts';

const kafka = await startKafka();

describe.skipIf(kafka === undefined)('the Kafka transport\'s log', () => {
  it('keeps rebalances at debug, and summarises a broker outage to one warning per cause', async () => {
    const options = { brokers: kafka!.brokers, topicPrefix: uniquePrefix('quiet'), ...FAST_KAFKA };
    await kafka!.createTopic(`${options.topicPrefix}quiet`, MOCK_PARTITIONS);
    const lines: LogLine[] = [];
    const watched = new KafkaTransport(options, { domain: 'quiet', logger: recordingLogger(lines) });
    const joiner = new KafkaTransport(options, { domain: 'quiet' });
    const warnings = () => lines.filter((line) => line.level === 'warn' || line.level === 'error');
    try {
      const subscription = await watched.consume(new RecordingHandler('watched'));
      await waitFor('every partition owned', () => subscription.owned().length === MOCK_PARTITIONS, 30_000);
      const other = await joiner.consume(new RecordingHandler('joiner'));
      await waitFor('the partitions split after a rebalance', () => other.owned().length > 0 && subscription.owned().length + other.owned().length === MOCK_PARTITIONS, 30_000);
      await joiner.close();
      await waitFor('every partition back after the joiner left', () => subscription.owned().length === MOCK_PARTITIONS, 30_000);
      const rebalanceWarnings = warnings().length;

      // The broker goes away: every request fails, again and again.
      const before = lines.length;
      await kafka!.close();
      const failures = () => lines.slice(before).filter((line) => /ECONNREFUSED|Connection error|Failed to connect|Crash/.test(`${line.message} ${String(line.fields.error ?? '')}`)).length;
      await waitFor('100 failures seen', () => failures() >= 100, 90_000);
      const outage = warnings().slice(rebalanceWarnings);
      console.log(JSON.stringify({ rebalanceWarnings, outageFailures: failures(), outageWarnings: outage.length, lines: lines.length }));

      expect(rebalanceWarnings).toBe(0);
      const causes = outage.map((line) => `${line.message} ${String(line.fields.error ?? '')} ${(line.fields.err as Error | undefined)?.name ?? ''}`.replace(/\d+(\.\d+)?/g, '#'));
      expect(causes.length).toBe(new Set(causes).size);
      expect(outage.length).toBeLessThan(failures() / 3);
      expect(outage.filter((line) => 'stack' in line.fields)).toEqual([]);
    } finally {
      await joiner.close();
      await watched.close();
    }
  }, 180_000);
});
