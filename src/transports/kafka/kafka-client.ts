import { Kafka, logLevel } from 'kafkajs';
import { ConnectionError } from '../../core/errors.ts';
import type { KafkaLog } from './kafka-log.ts';
import { fixRequestQueueSpin } from './request-queue-fix.ts';

/**
 * The part of a Kafka client the transport uses: kafkajs's `Kafka`, or any client with a
 * KafkaJS-compatible API, passed as the `client` option. Nothing else in shardline
 * touches kafkajs.
 */
export type KafkaClient = Pick<Kafka, 'admin' | 'producer' | 'consumer'>;

/** What a kafkajs client is built from. */
export interface KafkaClientSettings {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly connectionTimeoutMs: number;
  readonly retries: number;
}

/**
 * Builds a kafkajs client whose log goes to `log`: routine group traffic at debug, failures
 * at warn, summarised per cause (see `KafkaLog`); its connections do not spin when idle
 * (`fixRequestQueueSpin`).
 */
export function createKafkaClient(settings: KafkaClientSettings, log: KafkaLog): KafkaClient {
  fixRequestQueueSpin();
  return new Kafka({
    brokers: [...settings.brokers],
    clientId: settings.clientId,
    connectionTimeout: settings.connectionTimeoutMs,
    retry: { retries: settings.retries, initialRetryTime: 100, maxRetryTime: 5_000 },
    logLevel: logLevel.INFO,
    logCreator: log.logCreator,
  });
}

/** A `ConnectionError` naming the brokers, for any failure to reach or use them. */
export function kafkaConnectionError(brokers: readonly string[] | undefined, doing: string, error: unknown): ConnectionError {
  const where = brokers === undefined ? 'kafka (custom client)' : `kafka brokers ${brokers.join(',')}`;
  const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new ConnectionError(where, `${doing} failed: ${detail}`, { cause: error });
}
