// `shardline/redis`: state shared across processes through Redis, usable with any transport.
export { RedisStateStore, type RedisStateStoreOptions } from './redis-store.ts';
export { RedisDeadLetterQueue, type RedisDeadLetterQueueOptions } from './redis-dead-letters.ts';
export { RedisHotKeyBoard, type RedisHotKeyBoardOptions } from './redis-hot-key-board.ts';
export { RedisReplyBus, type RedisReplyBusOptions } from '../transports/bullmq/redis-reply-bus.ts';
