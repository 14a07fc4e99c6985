// Runs the conformance suite's hand-over check on this transport N times in a row (default
// 100) and prints one JSON line: how many passed, the failures' messages, and durations.
// `npx tsx examples/nats-transport/hand-over-repeat.ts 100` (starts a throwaway nats-server, or uses NATS_URL).
import { runConformanceCheck } from '../../src/testing/index.ts';
import { natsConformance } from './conformance-options.ts';
import { startNatsServer } from './nats-server.ts';

const runs = Number(process.argv[2] ?? 100);
const server = await startNatsServer();
const failures: string[] = [];
const durations: number[] = [];
try {
  for (let run = 1; run <= runs; run++) {
    const started = performance.now();
    try {
      await runConformanceCheck(natsConformance(() => server.url), 'hand-over');
    } catch (error) {
      failures.push(`run ${run}: ${(error as Error).message}`);
    }
    durations.push(Math.round(performance.now() - started));
  }
} finally {
  await server.stop();
}
const sorted = [...durations].sort((a, b) => a - b);
console.log(JSON.stringify({ check: 'hand-over', runs, passed: runs - failures.length, failures, medianMs: sorted[Math.floor(runs / 2)], maxMs: sorted.at(-1) }));
process.exitCode = failures.length === 0 ? 0 : 1;
