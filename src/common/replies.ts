/**
 * How a reply gets from an owner back to the producer that used `request()`. A producer
 * listens on an address it puts in `command.replyTo`; owners publish to that address.
 * Replies to a producer that has gone are dropped without harm.
 */

/** The outcome of one requested command. */
export type Reply =
  | { readonly id: string; readonly ok: true; readonly value: unknown }
  | { readonly id: string; readonly ok: false; readonly rejected: { reason: string; details?: Record<string, unknown> } }
  | { readonly id: string; readonly ok: false; readonly failed: string };

export interface ReplyBus {
  /** Starts receiving replies for this process; resolves with the address to put in `replyTo`. */
  listen(onReplies: (replies: readonly Reply[]) => void): Promise<string>;
  /** Sends replies to one address; a gone address drops them. */
  publish(address: string, replies: readonly Reply[]): Promise<void>;
  close(): Promise<void>;
}

/** Replies within one process (the memory transport's companion). */
export class MemoryReplyBus implements ReplyBus {
  static #nextAddress = 0;
  static readonly #listeners = new Map<string, (replies: readonly Reply[]) => void>();
  readonly #addresses: string[] = [];

  async listen(onReplies: (replies: readonly Reply[]) => void): Promise<string> {
    const address = `memory:${process.pid}:${MemoryReplyBus.#nextAddress++}`;
    MemoryReplyBus.#listeners.set(address, onReplies);
    this.#addresses.push(address);
    return address;
  }

  async publish(address: string, replies: readonly Reply[]): Promise<void> {
    MemoryReplyBus.#listeners.get(address)?.(replies);
  }

  async close(): Promise<void> {
    for (const address of this.#addresses.splice(0)) MemoryReplyBus.#listeners.delete(address);
  }
}
