// `shardline/testing`: what adapter authors use to prove their transport or state store keeps the contract.
export { checkTimeoutMs, conformanceCheck, describeTransportConformance, runConformanceCheck } from './conformance.ts';
export { TRANSPORT_CHECKS, type ConformanceCheck } from './checks/index.ts';
export { ConformanceError } from './conformance-error.ts';
export { ConformanceHarness, message, type Connected, type Consumer, type Settled } from './harness.ts';
export type { ConformanceOptions, ConformanceSettings, TransportHarness } from './options.ts';
export { GrantLedger } from './grant-ledger.ts';
export { ProtocolMonitor } from './protocol-monitor.ts';
export { RecordingHandler, waitFor, type RecordingHandlerOptions, type ShardLog } from './recording-handler.ts';
export {
  describeStoreConformance,
  failedStoreChecks,
  runStoreCheck,
  storeChecks,
  type StoreConformanceOptions,
  type StoreHarness,
} from './store-conformance.ts';
export { StoreConformanceError, type StoreCheck, type StoreCheckContext } from './store-check-kit.ts';
