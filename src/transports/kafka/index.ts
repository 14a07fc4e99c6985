// The Kafka transport's public surface: what configuration loads by module path and what users import.
import type { Transport } from '../transport.ts';
import type { TransportContext } from '../factory.ts';
import { KafkaTransport } from './kafka-transport.ts';

export { KafkaTransport, type KafkaTransportContext } from './kafka-transport.ts';
export { KafkaReplyBus, type KafkaReplyBusOptions } from './kafka-reply-bus.ts';
export { kafkaTransportSchema, type KafkaTransportOptions, type KafkaTransportSettings } from './kafka-options.ts';
export type { KafkaClient } from './kafka-client.ts';

/**
 * The `TransportModule` factory: validates `options` (every wrong field reported at once
 * as a `ConfigError`) and builds a Kafka transport for `context.domain`. Brokers come
 * from `options.brokers`, else from the `KAFKA_BROKERS` environment variable.
 */
export function createTransport(options: Record<string, unknown>, context: TransportContext): Transport {
  const brokers = options.brokers ?? (options.client === undefined ? process.env.KAFKA_BROKERS : undefined);
  return new KafkaTransport({ ...options, ...(brokers === undefined ? {} : { brokers }) } as never, context);
}
