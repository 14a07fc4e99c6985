import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BullmqTransport } from '../transports/bullmq/bullmq-transport.ts';
import { KafkaTransport, type KafkaTransportContext } from '../transports/kafka/kafka-transport.ts';
import type { Transport } from '../transports/transport.ts';
import type { KafkaTransportOptions } from '../transports/kafka/kafka-options.ts';
import type { BullmqOptionsInput } from '../transports/bullmq/options.ts';
import { lastLines } from './scaling-children.ts';

/** A transport the bench can build again in a child process: its kind and its constructor's (JSON) arguments. */
export type TransportSpec =
  | { readonly kind: 'bullmq'; readonly options: BullmqOptionsInput }
  | { readonly kind: 'kafka'; readonly options: KafkaTransportOptions; readonly context: KafkaTransportContext };

/** A new transport as `spec` describes it. */
export function buildTransport(spec: TransportSpec): Transport {
  return spec.kind === 'bullmq' ? new BullmqTransport(spec.options) : new KafkaTransport(spec.options, spec.context);
}

/** The entries a bench child runs: this directory's `producer-child` or `owner-child`. */
type Entry = 'producer-child' | 'owner-child';

/** A message a bench child sends over IPC; `{ error }` means it failed and is exiting. */
export type ChildMessage = Record<string, unknown> & { readonly type: string };

/** A child process of the bench, talking over IPC. */
export interface BenchChild {
  readonly name: string;
  readonly pid: number;
  send(message: Record<string, unknown>): void;
  /** Calls `listener` with every message from now on. */
  listen(listener: (message: ChildMessage) => void): void;
  /** The first message of `type` from now on; rejects when the child reports an error or exits first, or after `timeoutMs`. */
  next(type: string, timeoutMs: number): Promise<ChildMessage>;
  /** SIGKILLs it (unless it exited) and waits until it is reaped. */
  kill(): Promise<void>;
}

const SOURCE = import.meta.url.endsWith('.ts');

/**
 * Starts `entry` (beside this file: the TypeScript source under tsx when the bench runs
 * from source, the compiled JavaScript in the package) with an IPC channel; its stderr
 * is kept (the tail) for error messages.
 */
export function startBenchChild(entry: Entry, name: string): BenchChild {
  const file = fileURLToPath(new URL(`./${entry}.${SOURCE ? 'ts' : 'js'}`, import.meta.url));
  const child = spawn(process.execPath, [...(SOURCE ? ['--import', 'tsx'] : []), file], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-16_384)));
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(String(code ?? signal))));
  const listeners = new Set<(message: ChildMessage) => void>();
  child.on('message', (message) => {
    for (const listener of listeners) listener(message as ChildMessage);
  });
  return {
    name,
    pid: child.pid!,
    send: (message) => void child.send(message),
    listen: (listener) => void listeners.add(listener),
    next(type, timeoutMs) {
      return new Promise((resolve, reject) => {
        const done = (error?: Error, message?: ChildMessage) => {
          clearTimeout(timer);
          listeners.delete(listener);
          if (error === undefined) resolve(message!);
          else reject(error);
        };
        const listener = (message: ChildMessage) => {
          if (message.type === type) done(undefined, message);
          else if (message.type === 'error') done(new Error(`${name} failed: ${String(message.message)}`));
        };
        const timer = setTimeout(() => done(new Error(`${name} sent no ${type} within ${timeoutMs} ms: ${lastLines(stderr)}`)), timeoutMs);
        listeners.add(listener);
        void exited.then((code) => done(new Error(`${name} exited (${code}) before it sent ${type}: ${lastLines(stderr)}`)));
      });
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** In a bench child: exits as soon as the parent is gone (an interrupted bench leaves no producer or owner behind). */
export function exitWithParent(): void {
  process.once('disconnect', () => process.exit(1));
}

/** In a bench child: reports `error` to the parent and exits 1. */
export function failChild(error: unknown): never {
  process.send?.({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  process.exit(1);
}

/** In a bench child: the first message from the parent of `type`. */
export function parentMessage<T>(type: string): Promise<T> {
  return new Promise((resolve) => {
    const listener = (message: ChildMessage) => {
      if (message.type !== type) return;
      process.off('message', listener);
      resolve(message as unknown as T);
    };
    process.on('message', listener);
  });
}
