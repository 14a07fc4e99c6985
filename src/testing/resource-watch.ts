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
  readonly #open = new Map<number, { readonly type: string; readonly resource: object }>();
  readonly #hook: AsyncHook;

  constructor() {
    this.#hook = createHook({
      init: (id, type, _trigger, resource) => {
        if (HANDLES.has(type)) this.#open.set(id, { type, resource: resource as object });
      },
      destroy: (id) => {
        this.#open.delete(id);
      },
    }).enable();
  }

  /** What is still open and ref'd, as `2 Timeout, 1 TCPWRAP`; empty when nothing is. */
  leftOpen(): string {
    const counts = new Map<string, number>();
    for (const { type, resource } of this.#open.values()) {
      const hasRef = (resource as { hasRef?: () => boolean }).hasRef;
      if (typeof hasRef === 'function' && !hasRef.call(resource)) continue;
      if (type === 'Timeout' && (resource as { _destroyed?: boolean })._destroyed === true) continue;
      counts.set(type, (counts.get(type) ?? 0) + 1);
    }
    return [...counts].map(([type, count]) => `${count} ${type}`).join(', ');
  }

  stop(): void {
    this.#hook.disable();
  }
}
