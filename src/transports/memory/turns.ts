/** How long one broker's producers and delivery loops may run on promises alone before the event loop turns. */
const TURN_EVERY_MS = 10;

/**
 * The turns of the event loop that one broker's producers and delivery loops take
 * together. In one process they hand work to each other through promises alone, so without
 * a turn now and then timers and sockets (enqueue timeouts, /metrics) would wait until the
 * load stops. All of them wait for the same turn: a side that let the loop turn while the
 * other ran on would wait all that time (a delivery loop that yielded alone waited until
 * producers had filled every queue).
 */
export class Turns {
  #due = performance.now() + TURN_EVERY_MS;
  #turn: Promise<void> | undefined;
  #calls = 0;

  /** As `due()`, reading the clock on every 32nd call only: for callers once per command. */
  dueSometimes(): Promise<void> | undefined {
    if (this.#turn !== undefined || (++this.#calls & 31) !== 0) return this.#turn;
    return this.due();
  }

  /** The turn to wait for when one is due (the same one for every caller until it came), else undefined. */
  due(): Promise<void> | undefined {
    if (this.#turn !== undefined || performance.now() < this.#due) return this.#turn;
    this.#turn = new Promise((resolve) => {
      setImmediate(() => {
        this.#turn = undefined;
        this.#due = performance.now() + TURN_EVERY_MS;
        resolve();
      });
    });
    return this.#turn;
  }
}
