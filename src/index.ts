// The public surface of shardline. Everything a user imports is listed here on purpose.
export type { Command } from './core/command.ts';
export {
  defineDomain,
  type AnyDomain,
  type CommandSchemas,
  type CommandType,
  type Domain,
  type Handler,
  type HandlerContext,
  type Handlers,
  type InternalCommandType,
  type Outcome,
  type ParamsOf,
  type PayloadOf,
  type PublicCommandType,
  type QueryName,
  type QueryResultOf,
  type QuerySchemas,
  type ReplyOf,
  type Resolver,
  type Resolvers,
  type StateOf,
} from './core/domain.ts';
export {
  ClosedError,
  CommandFailedError,
  ConfigError,
  ConnectionError,
  InvalidCommandError,
  InvalidReadError,
  QueryFailedError,
  QueueFullError,
  Rejected,
  ShardlineError,
  StaleEpochError,
  StateEncodingError,
  TimeoutError,
  TransportContractError,
} from './core/errors.ts';
export { assignShards, murmur2, shardOf } from './core/router.ts';

export { Producer, type CommandInput, type ProducerOptions, type Receipt, type RequestOptions, type SendOutcome } from './runtime/producer.ts';
export { Owner, type OwnerOptions } from './runtime/owner.ts';
export { Reader, type Consistency, type ReaderOptions, type ReaderSettings, type ReadOptions, type ReadResult } from './runtime/reader.ts';
export { parseReceipt, receiptToken, type ReceiptPoint } from './runtime/receipt.ts';
export type { OwnerSettings, ProducerSettings } from './runtime/options.ts';
export type { ApplyOutcome, RuntimeObserver } from './runtime/observer.ts';
export { MemoryReplyBus, type Reply, type ReplyBus } from './common/replies.ts';
export { silentLogger, type Logger } from './common/logger.ts';

export type {
  Delivery,
  EnqueueOptions,
  EnqueueResult,
  OverflowPolicy,
  ShardGrant,
  ShardHandler,
  ShardOwner,
  Subscription,
  Transport,
  TransportInfo,
  TransportMessage,
} from './transports/transport.ts';
export { MAX_POSITION } from './transports/transport.ts';
export type { TransportContext, TransportModule } from './transports/factory.ts';
export { MemoryTransport, MEMORY_DEFAULTS, type MemoryTransportOptions } from './transports/memory/memory-transport.ts';
export { MemoryBroker } from './transports/memory/memory-broker.ts';

export type { EntityRead, OutboxMessage, ShardCommit, ShardSnapshot, StateStore } from './state/state-store.ts';
export { MemoryStateStore } from './state/memory-store.ts';
export { encodeState } from './state/encode-state.ts';
export { deadLetterId, MemoryDeadLetterQueue, type DeadLetter, type DeadLetterQueue, type Redrive } from './state/dead-letters.ts';
export { MemoryHotKeyBoard, readHotKeys, type HotKey, type HotKeyBoard, type HotKeySnapshot } from './state/hot-key-board.ts';

export { accounts, type Account, type Accounts } from './domains/accounts.ts';

export { MetricsObserver } from './metrics/metrics-observer.ts';
export { ShardlineInstruments, type MetricsLabels, type QueueSource } from './metrics/instruments.ts';
export { MetricsServer, type MetricsServerOptions, type Readiness } from './metrics/server.ts';
export { loadConfig, type LoadConfigOptions } from './config/load.ts';
export { configSchema, type Config } from './config/schema.ts';
export { combineObservers } from './runtime/observer.ts';
