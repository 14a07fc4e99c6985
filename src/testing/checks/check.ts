import type { ConformanceHarness } from '../harness.ts';
import type { ConformanceSettings } from '../options.ts';

/** One check of the suite: a guarantee of the transport contract, tested on its own. */
export interface ConformanceCheck {
  /** Short stable name, as a `ConformanceError` reports it (`redelivery-first`). */
  readonly name: string;
  /** What the check shows, as a test title. */
  readonly title: string;
  /** How long the check may run before it fails naming its last step, in ms. */
  budgetMs(settings: ConformanceSettings): number;
  /** Whether the check applies to a transport with these settings (default: always). */
  applies?(settings: ConformanceSettings): boolean;
  /** Runs the check; throws `ConformanceError` naming what the transport did wrong. */
  run(harness: ConformanceHarness): Promise<void>;
}
