/**
 * Credit-based flow control of one stream, in bytes (as HTTP/2's windows): the sender spends
 * credit for every message and waits while it has none; the receiver grants credit back as its
 * consumer takes messages. Both sides start every stream at {@linkcode STREAM_WINDOW_BYTES}.
 *
 * @module
 */

/**
 * Credit each side of a stream starts with, bytes: the most that a receiver holds queued per
 * stream (plus one message, see {@linkcode SendCredit}).
 */
export const STREAM_WINDOW_BYTES = 256 * 1024;

/**
 * Bytes every message costs on top of its payload: a frame's header and meta, and the decoded
 * object's own overhead, so that even empty messages use up credit.
 */
export const MESSAGE_COST_BYTES = 64;

/**
 * The credit a message of `payloadBytes` costs.
 *
 * @example
 * ```ts
 * import { messageCost } from "./credit.ts";
 * if (messageCost(0) !== 64 || messageCost(100) !== 164) throw new Error();
 * ```
 */
export function messageCost(payloadBytes: number): number {
  return payloadBytes + MESSAGE_COST_BYTES;
}

/**
 * The sender's credit on one stream. A message may be sent while the credit is positive, whatever
 * its size (so the credit may go negative by one message: messages are not split).
 *
 * @example
 * ```ts
 * import { SendCredit } from "./credit.ts";
 * const credit = new SendCredit(100);
 * credit.spend(150);
 * let woke = false;
 * const waiting = credit.wait().then(() => woke = true);
 * credit.grant(60);
 * await waiting;
 * if (!woke || credit.available !== 10) throw new Error();
 * ```
 */
export class SendCredit {
  #credit: number;
  #waiter: (() => void) | undefined;
  #closed = false;

  /** Starts with `initial` bytes of credit. */
  constructor(initial: number = STREAM_WINDOW_BYTES) {
    this.#credit = initial;
  }

  /** Bytes of credit left (may be negative by less than one message). */
  get available(): number {
    return this.#credit;
  }

  /** Spends `bytes` of credit on a message sent. */
  spend(bytes: number): void {
    this.#credit -= bytes;
  }

  /** Adds `bytes` of credit (a WINDOW_UPDATE); wakes a waiting sender once positive. */
  grant(bytes: number): void {
    this.#credit += bytes;
    if (this.#credit > 0) this.#wake();
  }

  /** Resolves once the credit is positive, or {@linkcode SendCredit.close} was called. */
  wait(): Promise<void> {
    if (this.#credit > 0 || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#waiter = resolve);
  }

  /** The stream ended: wakes a waiting sender for good. */
  close(): void {
    this.#closed = true;
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.();
  }
}

/**
 * The receiver's side of one stream's window: checks that the peer keeps within the credit it
 * was given, and decides when to grant more: once a quarter of a window has been consumed, so
 * one WINDOW_UPDATE covers many messages while the sender still has credit left to keep the
 * connection busy until the grant arrives.
 *
 * @example
 * ```ts
 * import { ReceiveWindow } from "./credit.ts";
 * const w = new ReceiveWindow(100);
 * if (!w.receive(80) || !w.receive(80)) throw new Error("within credit");
 * if (w.receive(10)) throw new Error("the peer had no credit left");
 * if (w.consume(20) !== 0) throw new Error("below a quarter of a window: no grant yet");
 * if (w.consume(40) !== 60) throw new Error("grant what was consumed");
 * ```
 */
export class ReceiveWindow {
  #window: number;
  /** Bytes received that have not been granted back. */
  #ungranted = 0;
  /** Bytes consumed that have not been granted back yet. */
  #consumed = 0;

  /** A window of `window` bytes. */
  constructor(window: number = STREAM_WINDOW_BYTES) {
    this.#window = window;
  }

  /** Counts a message of `cost` received; false when the peer had no credit to send it. */
  receive(cost: number): boolean {
    if (this.#ungranted >= this.#window) return false;
    this.#ungranted += cost;
    return true;
  }

  /** Counts a message of `cost` consumed; returns the credit to grant now (0: not yet). */
  consume(cost: number): number {
    this.#consumed += cost;
    if (this.#consumed < this.#window / 4) return 0;
    const grant = this.#consumed;
    this.#consumed = 0;
    this.#ungranted -= grant;
    return grant;
  }
}
