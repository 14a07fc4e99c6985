// `shardline/testing`: what adapter authors use to prove their transport or state store keeps the contract.
export { describeTransportConformance, type ConformanceOptions, type TransportHarness } from './conformance.ts';
export { OverlapDetector, RecordingHandler, waitFor, type ShardLog } from './recording-handler.ts';
export {
  describeStoreConformance,
  failedStoreChecks,
  runStoreCheck,
  storeChecks,
  type StoreConformanceOptions,
  type StoreHarness,
} from './store-conformance.ts';
export { StoreConformanceError, type StoreCheck, type StoreCheckContext } from './store-check-kit.ts';
