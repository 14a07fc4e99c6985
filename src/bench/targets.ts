import { median, type BenchResult } from './run.ts';

/**
 * A ratio target from the issues: `subject` must reach `must` times `baseline` in the same
 * run, and should reach `goal`; without either, the line only reports how the two compare.
 * `workload` limits a target to one key choice.
 */
interface RatioTarget {
  readonly subject: string;
  readonly baseline: string;
  readonly must?: number;
  readonly goal?: number;
  readonly workload?: 'uniform' | 'hot';
}

/** An absolute bound on a row's field or note (issue 14): a p99 in ms, bytes per queued command; without a goal, a figure reported. */
interface LimitTarget {
  readonly subject: string;
  readonly field: 'p99Ms' | 'bytesPerQueuedCommand' | 'bytesPerCachedEntity';
  readonly goal?: number;
  readonly unit: string;
  readonly label: string;
}

/** Issue 14's table (must and goal side by side), then the earlier targets. */
const RATIOS: readonly RatioTarget[] = [
  { subject: 'shardline-memory', baseline: 'direct-apply', must: 0.35, goal: 0.5 },
  { subject: 'shardline-memory/per-command', baseline: 'naive-bounded-queue', must: 1.5, goal: 2 },
  { subject: 'shardline-bullmq', baseline: 'redis-lock', must: 5, goal: 10, workload: 'uniform' },
  { subject: 'shardline-bullmq', baseline: 'redis-lock', must: 21, goal: 40, workload: 'hot' },
  { subject: 'shardline-kafka', baseline: 'kafkajs-raw', must: 0.9, goal: 1 },
  { subject: 'shardline-bullmq', baseline: 'bullmq-job-per-command', must: 5 },
  // Issue 15's scenario is hot keys, where readers and the writer contend for the same locks;
  // on uniform keys the lock is rarely held by another and the ratio says little.
  { subject: 'reads-under-writes/store-reads', baseline: 'reads-under-writes/lock-reads', must: 10, workload: 'hot' },
  { subject: 'reads-under-writes/writes-with-store-reads', baseline: 'reads-under-writes/writes-alone', must: 0.9 },
  { subject: 'reads-under-writes/store-reads', baseline: 'reads-under-writes/request-reads' },
  { subject: 'reads-under-writes/owner-reads', baseline: 'reads-under-writes/request-reads' },
  { subject: 'reads-under-writes/lock-writes-with-reads', baseline: 'reads-under-writes/lock-writes-alone' },
];

const LIMITS: readonly LimitTarget[] = [
  { subject: 'shardline-memory/open-loop', field: 'p99Ms', goal: 5, unit: ' ms', label: 'p99' },
  { subject: 'shardline-bullmq/open-loop', field: 'p99Ms', goal: 25, unit: ' ms', label: 'p99' },
  { subject: 'shardline-memory', field: 'bytesPerQueuedCommand', goal: 200, unit: ' bytes', label: 'bytes per queued command' },
  { subject: 'shardline-memory', field: 'bytesPerCachedEntity', unit: ' bytes', label: 'bytes per cached entity (owner state cache)' },
];

/**
 * The subject's one-thread bound (its notes `oneThreadBoundPerSec`, `producerAlonePerSec`,
 * `ownerAlonePerSec`) against the baseline, and the subject against its bound: whether
 * the ratio target on the same pair is within reach of a producer and an owner sharing one
 * thread at all.
 */
interface BoundTarget {
  readonly subject: string;
  readonly baseline: string;
}

const BOUNDS: readonly BoundTarget[] = [{ subject: 'shardline-memory', baseline: 'direct-apply' }];

const verdict = (met: boolean) => (met ? 'met' : 'NOT met');

/** A numeric note of `result` round by round (one entry without `--repeat`), or undefined. */
function noteRuns(result: BenchResult, note: string): readonly number[] | undefined {
  const last = result.notes?.[note];
  return result.noteRuns?.[note] ?? (typeof last === 'number' ? [last] : undefined);
}

/**
 * `subject` over `baseline`, given their rounds: round by round when both ran the same
 * rounds (a noisy round then slows both sides), the median of those ratios; else median
 * over median.
 */
function pairedRatio(subject: readonly number[], baseline: readonly number[]): number {
  if (subject.length === baseline.length) return median(subject.map((value, i) => value / baseline[i]!));
  return median(subject) / median(baseline);
}

const perSec = (value: number) => `${Math.round(value).toLocaleString('en-US')}/s`;

/** One line per target whose rows ran: the ratio or value, the target(s), met or not; plus anomalies. */
export function targetLines(results: readonly BenchResult[]): string[] {
  const lines: string[] = [];
  const workloads = [...new Set(results.map((r) => r.workload))];
  for (const workload of workloads) {
    const find = (name: string) => results.find((r) => r.name === name && r.workload === workload);
    for (const target of RATIOS) {
      const subject = find(target.subject);
      const baseline = find(target.baseline);
      if (subject === undefined || baseline === undefined || (target.workload !== undefined && target.workload !== workload)) continue;
      const ratio = pairedRatio(subject.runs, baseline.runs);
      const bounds = [
        target.must === undefined ? '' : `must >= ${target.must}x: ${verdict(ratio >= target.must)}`,
        target.goal === undefined ? '' : `goal >= ${target.goal}x: ${verdict(ratio >= target.goal)}`,
      ].filter(Boolean);
      lines.push([`${target.subject} / ${target.baseline} (${workload}): ${ratio.toFixed(2)}x`, ...bounds].join(', '));
    }
    for (const target of BOUNDS) {
      const subject = find(target.subject);
      const baseline = find(target.baseline);
      const bound = subject === undefined ? undefined : noteRuns(subject, 'oneThreadBoundPerSec');
      if (baseline === undefined || bound === undefined) continue;
      const ratio = pairedRatio(bound, baseline.runs);
      const must = RATIOS.find((r) => r.subject === target.subject && r.baseline === target.baseline)?.must;
      const reach = must === undefined ? '' : ratio >= must ? `: the ${must}x must is within it` : `: below the ${must}x must, out of reach with both on one thread`;
      const alone = (note: string) => perSec(median(noteRuns(subject!, note) ?? [NaN]));
      lines.push(
        `${target.subject} one-thread bound / ${target.baseline} (${workload}): ${ratio.toFixed(2)}x ` +
          `(${perSec(median(bound))}; producer alone ${alone('producerAlonePerSec')}, owner alone ${alone('ownerAlonePerSec')})${reach}`,
      );
      lines.push(`${target.subject} / its one-thread bound (${workload}): ${pairedRatio(subject!.runs, bound).toFixed(2)}x`);
    }
    for (const target of LIMITS) {
      const subject = find(target.subject);
      const value = target.field === 'p99Ms' ? subject?.p99Ms : subject?.notes?.[target.field];
      if (typeof value !== 'number') continue;
      const offered = target.field === 'p99Ms' ? ` at ${subject!.notes?.offeredPerSec} commands/s offered` : '';
      const goal = target.goal === undefined ? '' : `, goal <= ${target.goal}${target.unit}: ${verdict(value <= target.goal)}`;
      lines.push(`${target.subject} ${target.label} (${workload})${offered}: ${value}${target.unit}${goal}`);
    }
    for (const r of results) {
      if (r.workload === workload && (r.name.startsWith('shardline') || r.name.startsWith('reads-under-writes/')) && (r.lostUpdates > 0 || r.duplicates > 0)) {
        lines.push(`${r.name} (${workload}): ${r.lostUpdates} lost, ${r.duplicates} duplicates: target 0 NOT met`);
      }
    }
  }
  return lines;
}
