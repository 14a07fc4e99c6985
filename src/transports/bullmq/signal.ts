/**
 * A wake-up flag with a bounded wait: `wait(ms)` resolves on the next `notify()` or after
 * `ms`, and at once when a `notify()` came since the last `clear()`, so a notice that
 * arrives between "the queue looked empty" and "now wait" is never missed. The one timer
 * is unref'd: an idle wait never holds the process open.
 */
export class Signal {
  #notified = false;
  #resolve: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;

  clear(): void {
    this.#notified = false;
  }

  notify(): void {
    this.#notified = true;
    this.#settle();
  }

  wait(ms: number): Promise<void> {
    if (this.#notified) return Promise.resolve();
    this.#settle();
    return new Promise<void>((resolve) => {
      this.#resolve = resolve;
      this.#timer = setTimeout(() => this.#settle(), ms);
      this.#timer.unref();
    });
  }

  #settle(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const resolve = this.#resolve;
    this.#resolve = undefined;
    resolve?.();
  }
}

/** Resolves after `ms` (unref'd timer); for retry pauses. */
export function pause(ms: number): Promise<void> {
  return new Signal().wait(ms);
}
