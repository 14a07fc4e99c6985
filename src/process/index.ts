// `shardline/process`: run a consumer or a producer of your own domain as a process, with
// what the `shardline` command gives its own (config layering, metrics and health server,
// graceful shutdown, exit codes).
export { runConsumer } from './consumer.ts';
export { runProducer, type ProducerContext, type ProducerWork, type RunProducerOptions } from './producer.ts';
export type { ProcessOptions } from './options.ts';
export { ExitCode } from './exit-codes.ts';
export type { Config, ConfigInput } from '../config/schema.ts';
