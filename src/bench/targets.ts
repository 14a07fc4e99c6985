import { median, type BenchResult } from './run.ts';

/**
 * A target from the issues: `subject` must reach `ratio` times `baseline`, in the same run;
 * without a ratio, the line only reports how the two compare.
 */
const TARGETS: readonly { subject: string; baseline: string; ratio?: number }[] = [
  { subject: 'shardline-memory', baseline: 'direct-apply', ratio: 0.25 },
  { subject: 'shardline-memory/per-command', baseline: 'naive-bounded-queue', ratio: 2 },
  { subject: 'shardline-bullmq', baseline: 'redis-lock', ratio: 5 },
  { subject: 'shardline-bullmq', baseline: 'bullmq-job-per-command', ratio: 5 },
  { subject: 'shardline-kafka', baseline: 'kafkajs-raw', ratio: 0.7 },
  { subject: 'reads-under-writes/store-reads', baseline: 'reads-under-writes/lock-reads', ratio: 10 },
  { subject: 'reads-under-writes/writes-with-store-reads', baseline: 'reads-under-writes/writes-alone', ratio: 0.9 },
  { subject: 'reads-under-writes/store-reads', baseline: 'reads-under-writes/request-reads' },
  { subject: 'reads-under-writes/owner-reads', baseline: 'reads-under-writes/request-reads' },
  { subject: 'reads-under-writes/lock-writes-with-reads', baseline: 'reads-under-writes/lock-writes-alone' },
];

/** One line per target whose subject and baseline both ran: the ratio, the target, met or not; plus anomalies. */
export function targetLines(results: readonly BenchResult[]): string[] {
  const lines: string[] = [];
  const workloads = [...new Set(results.map((r) => r.workload))];
  for (const workload of workloads) {
    const find = (name: string) => results.find((r) => r.name === name && r.workload === workload);
    for (const target of TARGETS) {
      const subject = find(target.subject);
      const baseline = find(target.baseline);
      if (subject === undefined || baseline === undefined) continue;
      // Round by round when both ran the same rounds: a noisy round then slows both sides.
      const paired = subject.runs.length === baseline.runs.length && subject.runs.length > 1;
      const ratio = paired
        ? median(subject.runs.map((rate, i) => rate / baseline.runs[i]!))
        : subject.commandsPerSec / baseline.commandsPerSec;
      const shown = `${target.subject} / ${target.baseline} (${workload}): ${ratio.toFixed(2)}x`;
      lines.push(target.ratio === undefined ? shown : `${shown}, target >= ${target.ratio}x: ${ratio >= target.ratio ? 'met' : 'NOT met'}`);
    }
    for (const r of results) {
      if (r.workload === workload && (r.name.startsWith('shardline') || r.name.startsWith('reads-under-writes/')) && (r.lostUpdates > 0 || r.duplicates > 0)) {
        lines.push(`${r.name} (${workload}): ${r.lostUpdates} lost, ${r.duplicates} duplicates: target 0 NOT met`);
      }
    }
  }
  return lines;
}
