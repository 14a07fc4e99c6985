import { createHook, type AsyncHook } from 'node:async_hooks';

/** Kinds of async resource that hold something open: timers, sockets, servers, pipes, child processes, watchers. */
const HANDLES = new Set([
  'Timeout',
  'TCPWRAP',
  'TCPSERVERWRAP',
  'PIPEWRAP',
  'PIPESERVERWRAP',
  'UDPWRAP',
  'TLSWRAP',
  'PROCESSWRAP',
  'SIGNALWRAP',
  'FSEVENTWRAP',
  'STATWATCHER',
]);

/**
 * The timers, sockets and other handles created while it watches that are still open
 * and keep the process alive (ref'd): what a `close()` left behind. Resources that
 * existed before it started are not its business, so other tests' leftovers finishing
 * meanwhile cannot hide a leak.
 */
export class ResourceWatch {
  readonly #open = new Map<number, { readonly type: string; readonly resource: object; readonly where: string }>();
  readonly #hook: AsyncHook;

  constructor() {
    this.#hook = createHook({
      init: (id, type, _trigger, resource) => {
        if (HANDLES.has(type)) this.#open.set(id, { type, resource: resource as object, where: creator() });
      },
      destroy: (id) => {
        this.#open.delete(id);
      },
    }).enable();
  }

  /** What is still open and ref'd, as `2 Timeout (created at …)`; empty when nothing is. */
  leftOpen(): string {
    const found = new Map<string, { count: number; where: Set<string> }>();
    for (const { type, resource, where } of this.#open.values()) {
      const hasRef = (resource as { hasRef?: () => boolean }).hasRef;
      if (typeof hasRef === 'function' && !hasRef.call(resource)) continue;
      if (type === 'Timeout' && (resource as { _destroyed?: boolean })._destroyed === true) continue;
      const entry = found.get(type) ?? { count: 0, where: new Set<string>() };
      entry.count++;
      if (where !== '') entry.where.add(where);
      found.set(type, entry);
    }
    return [...found].map(([type, { count, where }]) => `${count} ${type}${where.size === 0 ? '' : ` (created at ${[...where].join('; ')})`}`).join(', ');
  }

  /** Stops watching (the async hook costs every later resource). */
  stop(): void {
    this.#hook.disable();
  }
}

/** The first frame of the current stack outside Node's internals and this file (who opened the handle), or '' when none is. */
function creator(): string {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 40;
  const frames = (new Error().stack ?? '').split('\n').slice(1);
  Error.stackTraceLimit = limit;
  const frame = frames.find((line) => !line.includes('node:') && !line.includes('resource-watch.ts'));
  return frame?.trim().replace(/^at /, '') ?? '';
}
