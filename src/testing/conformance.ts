import { describe, it } from 'vitest';
import { TRANSPORT_CHECKS, type ConformanceCheck } from './checks/index.ts';
import { ConformanceError } from './conformance-error.ts';
import { ConformanceHarness, describeOutcome } from './harness.ts';
import { conformanceSettings, type ConformanceOptions } from './options.ts';

/** The check named `name`; throws `ConformanceError` naming the known ones otherwise. */
export function conformanceCheck(name: string): ConformanceCheck {
  const check = TRANSPORT_CHECKS.find((candidate) => candidate.name === name);
  if (check === undefined) {
    throw new ConformanceError(name, `expected a check named one of ${TRANSPORT_CHECKS.map((c) => c.name).join(', ')}, got "${name}"`);
  }
  return check;
}

/**
 * Runs one check against the transport `options` describe, outside any test runner: it
 * resolves when the transport keeps that guarantee and throws a `ConformanceError`
 * naming the check and what went wrong otherwise, within the check's own time bound.
 * After the check, every call the transport made to the suite's handlers is judged too
 * (see `ProtocolMonitor`): a forbidden call fails the check even if its own steps passed.
 */
export async function runConformanceCheck(options: ConformanceOptions, check: ConformanceCheck | string): Promise<void> {
  const chosen = typeof check === 'string' ? conformanceCheck(check) : check;
  const settings = conformanceSettings(options);
  const harness = new ConformanceHarness(chosen.name, options, settings);
  const budgetMs = chosen.budgetMs(settings);
  let failure: unknown;
  const running = chosen.run(harness);
  running.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      running,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ConformanceError(chosen.name, `did not finish within ${budgetMs} ms; last step: ${harness.step}`)), budgetMs);
      }),
    ]);
  } catch (error) {
    failure = error;
  } finally {
    clearTimeout(timer);
  }
  try {
    await harness.close();
  } catch (error) {
    failure ??= error;
  }
  const violations = harness.monitor.violations();
  const detail = failure === undefined ? undefined : failure instanceof ConformanceError ? failure.detail : `${harness.step}: ${describeOutcome(failure)}`;
  if (violations.length > 0) {
    throw new ConformanceError(chosen.name, `the transport broke the protocol: ${violations.join('; ')}${detail === undefined ? '' : ` (then, ${detail})`}`, { cause: failure });
  }
  if (detail !== undefined) throw failure instanceof ConformanceError ? failure : new ConformanceError(chosen.name, detail, { cause: failure });
}

/** The longest a check may take, closing included, before the test runner gives up on it. */
export function checkTimeoutMs(options: ConformanceOptions, check: ConformanceCheck): number {
  const settings = conformanceSettings(options);
  return check.budgetMs(settings) + settings.handOverMs * 2 + 20_000;
}

/**
 * The transport conformance suite: registers one vitest test per check of
 * {@link TRANSPORT_CHECKS} that applies, each proving one guarantee of the transport
 * contract (`src/transports/transport.ts`) against a real implementation. Call it from a
 * test file of your own:
 *
 * ```ts
 * import { describeTransportConformance } from 'shardline/testing';
 * describeTransportConformance({ name: 'my-queue', setup: async () => ({ create: () => new MyTransport(...) }) });
 * ```
 */
export function describeTransportConformance(options: ConformanceOptions): void {
  const settings = conformanceSettings(options);
  describe(`transport conformance: ${options.name}`, () => {
    for (const check of TRANSPORT_CHECKS) {
      if (check.applies?.(settings) === false) continue;
      it(`${check.name}: ${check.title}`, () => runConformanceCheck(options, check), checkTimeoutMs(options, check));
    }
  });
}
