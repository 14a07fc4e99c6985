import type { TransportContext } from '../factory.ts';
import { BullmqTransport } from './bullmq-transport.ts';

export { BullmqTransport } from './bullmq-transport.ts';
export { parseBullmqOptions, type BullmqOptions, type BullmqOptionsInput } from './options.ts';
export { RedisReplyBus, type RedisReplyBusOptions } from './redis-reply-bus.ts';

/**
 * The `TransportModule` factory: `transport: { module: "bullmq", options: {...} }`. The
 * domain defaults to the context's; options are validated here, every wrong one reported.
 */
export function createTransport(options: Record<string, unknown>, context: TransportContext): BullmqTransport {
  return new BullmqTransport({ domain: context.domain, ...options, logger: context.logger } as ConstructorParameters<typeof BullmqTransport>[0]);
}
