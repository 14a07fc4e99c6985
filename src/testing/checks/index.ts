import { allOrNoneCheck, blockCheck, concurrentBoundCheck, enqueueNowCheck, oversizedCheck, reserveCheck } from './bound.ts';
import type { ConformanceCheck } from './check.ts';
import { crashRedeliveryCheck, longRunCheck, orderCheck, redeliveryFirstCheck, seekCheck } from './delivery.ts';
import { closeHandOverCheck, connectCheck, depthCheck, leakCheck, ownersCheck } from './lifecycle.ts';
import { assignedFirstCheck, handOverCheck, refusedAssignedCheck, staleEpochCheck } from './ownership.ts';

export type { ConformanceCheck } from './check.ts';

/** Every check of the transport conformance suite, in the order the suite runs them. */
export const TRANSPORT_CHECKS: readonly ConformanceCheck[] = [
  connectCheck,
  orderCheck,
  longRunCheck,
  redeliveryFirstCheck,
  concurrentBoundCheck,
  reserveCheck,
  oversizedCheck,
  allOrNoneCheck,
  blockCheck,
  enqueueNowCheck,
  depthCheck,
  crashRedeliveryCheck,
  handOverCheck,
  refusedAssignedCheck,
  staleEpochCheck,
  assignedFirstCheck,
  seekCheck,
  closeHandOverCheck,
  leakCheck,
  ownersCheck,
];
