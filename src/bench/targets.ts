import { median, type BenchResult } from './run.ts';

/** A target from the issues: `subject` must reach `ratio` times `baseline`, in the same run. */
const TARGETS = [
  { subject: 'shardline-memory', baseline: 'direct-apply', ratio: 0.25 },
  { subject: 'shardline-memory/per-command', baseline: 'naive-bounded-queue', ratio: 2 },
  { subject: 'shardline-bullmq', baseline: 'redis-lock', ratio: 5 },
  { subject: 'shardline-bullmq', baseline: 'bullmq-job-per-command', ratio: 5 },
  { subject: 'shardline-kafka', baseline: 'kafkajs-raw', ratio: 0.7 },
] as const;

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
      lines.push(`${target.subject} / ${target.baseline} (${workload}): ${ratio.toFixed(2)}x, target >= ${target.ratio}x: ${ratio >= target.ratio ? 'met' : 'NOT met'}`);
    }
    for (const r of results) {
      if (r.workload === workload && r.name.startsWith('shardline') && (r.lostUpdates > 0 || r.duplicates > 0)) {
        lines.push(`${r.name} (${workload}): ${r.lostUpdates} lost, ${r.duplicates} duplicates: target 0 NOT met`);
      }
    }
  }
  return lines;
}
