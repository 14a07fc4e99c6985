import { counters } from '../counter-domain.ts';
import { LatencyRecorder } from '../latency.ts';
import type { Scenario } from '../scenario.ts';
import { counterResult } from '../workload.ts';

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
    const result = counterResult(workload, state, latency, started);
    progress(workload.commands);
    return result;
  },
};
