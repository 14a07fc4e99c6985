import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LatencyRecorder, percentiles } from '../latency.ts';
import type { Scenario, ScenarioResult, Workload } from '../scenario.ts';
import { countAnomalies, expectedCounts } from '../workload.ts';

/** Manager proxies do a few thousand increments a second; more would only make the bench wait. */
const MAX_COMMANDS = 20_000;

/** Generous for 20,000 increments at a few hundred a second; only a hung interpreter reaches it. */
const TIMEOUT_MS = 300_000;

/** How long Python gets to stop its manager and workers after SIGTERM before it is killed. */
const KILL_GRACE_MS = 5_000;

const SCRIPT = fileURLToPath(new URL('./python-manager-dict.py', import.meta.url));

const MODES = ['no-lock', 'lock'] as const;

/** The JSON line `python-manager-dict.py` prints. */
interface PythonMeasurement {
  readonly python: string;
  readonly seconds: number;
  readonly latenciesMs: readonly number[];
  readonly counts: Readonly<Record<string, number>>;
}

/**
 * The seed comparison for readers who come from Python: `d[k] = d[k] + 1` on a
 * `multiprocessing.Manager().dict()` from `producerProcesses` processes, without and with a
 * `Manager().Lock()`. Runs `python3` on at most the first 20,000 commands of the workload.
 */
export const scenario: Scenario = {
  name: 'python-manager-dict',
  description: `python3 multiprocessing.Manager dict, d[k] = d[k] + 1 from several processes, without and with Manager().Lock() (first ${MAX_COMMANDS.toLocaleString('en-US')} commands)`,
  needs: [],
  async run({ workload, producerProcesses: asked, progress }) {
    // The baseline is about processes: without --producer-processes it uses two.
    const producerProcesses = asked > 0 ? asked : 2;
    const prefix = prefixOf(workload, MAX_COMMANDS);
    const keys = Array.from({ length: prefix.commands }, (_, i) => prefix.keyOf(i)).join('\n');
    const expected = expectedCounts(prefix);
    const results: ScenarioResult[] = [];
    for (const mode of MODES) {
      const measured = await runPython([String(producerProcesses), mode], keys);
      const latency = new LatencyRecorder();
      for (const ms of measured.latenciesMs) latency.record(ms);
      results.push({
        name: `python-manager-dict/${mode}`,
        commandsPerSec: prefix.commands / measured.seconds,
        ...countAnomalies(expected, new Map(Object.entries(measured.counts))),
        ...percentiles(latency),
        notes: {
          processes: producerProcesses,
          python: measured.python,
          ...(prefix.commands < workload.commands ? { commands: prefix.commands } : {}),
        },
      });
      progress(Math.round((workload.commands * results.length) / MODES.length));
    }
    return results;
  },
};

/** The first `limit` commands as a workload of their own, so expected counts match what Python applied. */
function prefixOf(workload: Workload, limit: number): Workload {
  if (workload.commands <= limit) return workload;
  return { name: workload.name, commands: limit, accounts: workload.accounts, keyOf: (i) => workload.keyOf(i) };
}

/**
 * Runs the script with `input` on stdin and parses its last stdout line. A timeout sends
 * SIGTERM first, because the script then stops its manager and workers; SIGKILL would
 * leave them behind.
 */
function runPython(args: readonly string[], input: string): Promise<PythonMeasurement> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', [SCRIPT, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killTimer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const timeout = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    }, TIMEOUT_MS);
    const settle = () => {
      clearTimeout(timeout);
      clearTimeout(killTimer);
    };
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    // An EPIPE here means Python exited before reading its input; its exit status and stderr say why.
    child.stdin.on('error', () => {});
    child.on('error', (error: NodeJS.ErrnoException) => {
      settle();
      child.kill('SIGTERM');
      reject(
        error.code === 'ENOENT'
          ? new Error('python-manager-dict needs python3 on PATH; spawning it failed with ENOENT', { cause: error })
          : error,
      );
    });
    child.on('close', (code, signal) => {
      settle();
      if (code !== 0) {
        const why = signal === null ? `exit status ${code}` : `signal ${signal}`;
        const late = timedOut ? `, stopped after no result within ${TIMEOUT_MS} ms` : '';
        reject(new Error(`python3 ${SCRIPT} ${args.join(' ')} ended with ${why}${late}: ${lastLine(stderr) || 'no stderr'}`));
        return;
      }
      try {
        resolve(JSON.parse(lastLine(stdout)) as PythonMeasurement);
      } catch (error) {
        reject(new Error(`python3 ${SCRIPT} printed no JSON result line; got ${JSON.stringify(lastLine(stdout))}`, { cause: error }));
      }
    });
    child.stdin.end(input);
  });
}

function lastLine(text: string): string {
  return text.trimEnd().split('\n').at(-1) ?? '';
}
