// The NATS JetStream transport for shardline: what configuration's `transport.module` names.
export { createTransport, NatsTransport } from './nats-transport.ts';
export { natsTransportOptionsSchema, type NatsTransportOptions, type NatsTransportSettings } from './options.ts';
export { NatsReplyBus, type NatsReplyBusOptions } from './nats-reply-bus.ts';
