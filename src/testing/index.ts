// `shardline/testing`: what adapter authors use to prove their transport keeps the contract.
export { describeTransportConformance, type ConformanceOptions, type TransportHarness } from './conformance.ts';
export { OverlapDetector, RecordingHandler, waitFor, type ShardLog } from './recording-handler.ts';
