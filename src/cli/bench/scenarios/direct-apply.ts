import { counters } from '../counter-domain.ts';
import { LatencyRecorder } from '../latency.ts';
import type { Scenario } from '../scenario.ts';
import { countAnomalies, expectedCounts } from '../workload.ts';

/** The ceiling: the same validation and handler, called in a plain loop on a Map. No queue, no concurrency. */
export const scenario: Scenario = {
  name: 'direct-apply',
  description: 'payload validated and the handler called in a plain loop on a Map: the ceiling, no queue',
  needs: [],
  async run({ workload, progress }) {
    const schema = counters.schemas.add;
    const add = counters.handlers.add;
    const state = new Map<string, { value: number }>();
    const latency = new LatencyRecorder();
    const started = performance.now();
    for (let i = 0; i < workload.commands; i++) {
      const sampled = (i & 63) === 0;
      const t0 = sampled ? performance.now() : 0;
      const key = workload.keyOf(i);
      const payload = schema.parse({ by: 1 });
      state.set(key, add(state.get(key) ?? counters.initial(key), payload).state);
      if (sampled) latency.record(performance.now() - t0);
      if ((i & 0xffff) === 0) progress(i);
    }
    const seconds = (performance.now() - started) / 1000;
    progress(workload.commands);
    const actual = new Map([...state].map(([key, s]) => [key, s.value]));
    return {
      commandsPerSec: workload.commands / seconds,
      ...countAnomalies(expectedCounts(workload), actual),
      p50Ms: latency.percentile(50),
      p99Ms: latency.percentile(99),
    };
  },
};
