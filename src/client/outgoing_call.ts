/**
 * One attempt of a unary call, as a channel hands it to a connection: what to send, and the
 * connection's bookkeeping of it while it is in flight. One object per attempt (a call sent
 * again elsewhere is a new attempt), so a call costs one object besides its promise.
 *
 * @module
 */
import { Code, RpcError } from "../errors.ts";
import type { Expirable, WheelLink } from "../util/deadline_wheel.ts";
import type { Payload } from "../wire/frame_writer.ts";
import type { BufferLoan } from "./buffer_loan.ts";

/**
 * Decodes a response payload; `borrowed` means `payload` is a view into a read buffer that will
 * be reused, so nothing of it may be kept.
 */
export interface ResponseDecoder {
  decode(payload: Uint8Array, borrowed: boolean): unknown;
  /**
   * When present: called with the metadata of a successful response (`{}` when it carries
   * none), just before `decode`.
   */
  onMetadata?: ((metadata: Record<string, string>) => void) | undefined;
  /**
   * False when nothing `decode` returns can be a view of `payload` (a message type without
   * `bytes` fields): a call's buffer loan then lends nothing.
   */
  readonly hasBytes?: boolean | undefined;
}

/** The options of a call a connection reads: its signal, metadata and buffer loan. */
export interface OutgoingOptions {
  readonly signal?: AbortSignal | undefined;
  readonly metadata?: Record<string, string> | undefined;
  readonly loan?: BufferLoan | undefined;
}

/** What holds a call in flight: it fails the call when the call's deadline passes. */
export interface CallHolder {
  /** Fails `call` with `err`; with `notify`, tells the provider to stop it. */
  fail(call: OutgoingCall, err: RpcError, notify: boolean): void;
}

function noop(): void {}

/**
 * A unary call attempt. The channel fills in what to send; a connection's `call()` sets the
 * rest (its call id, the deadline wheel's links, the abort listener, the promise's settle
 * functions) and clears them when the call settles.
 *
 * @example
 * ```ts ignore
 * const call = new OutgoingCall(desc, desc.request.encode({ name }), desc.response, 0, {}, 0);
 * const response = await connection.call(call);
 * ```
 */
export class OutgoingCall<
  D extends { readonly route: Uint8Array } = { readonly route: Uint8Array },
  O extends OutgoingOptions = OutgoingOptions,
> implements Expirable {
  /** Call id on the connection that holds it; 0 while none does. */
  id = 0;
  /** The connection holding it in flight, if any. */
  holder: CallHolder | undefined = undefined;
  /** Deadline wheel bookkeeping (see `deadline_wheel.ts`). */
  wheelSlot: number | undefined = undefined;
  /** Deadline wheel bookkeeping. */
  wheelPrev: WheelLink | undefined = undefined;
  /** Deadline wheel bookkeeping. */
  wheelNext: WheelLink | undefined = undefined;
  /** The abort listener added to `opts.signal` while in flight. */
  onAbort: (() => void) | undefined = undefined;
  /** Settles the promise the connection returned for it. */
  resolve: (value: unknown) => void = noop;
  /** Settles the promise the connection returned for it. */
  reject: (error: RpcError) => void = noop;

  /**
   * What to send: `desc` names the method (its route bytes go on the wire), `payload` is the
   * request, `decoder` decodes the response, `deadline` is a `Date.now()` time (0: none),
   * `opts` carries the signal and metadata, `hops` counts the times it was sent again because a
   * provider never started it, and `duringDrain` sends it even on a connection the provider
   * told to go away (a health check: providers answer those while they drain).
   */
  constructor(
    readonly desc: D,
    readonly payload: Payload,
    readonly decoder: ResponseDecoder,
    readonly deadline: number,
    readonly opts: O,
    readonly hops: number,
    readonly duringDrain = false,
  ) {}

  /** Called by the deadline wheel: fails the call with `DEADLINE_EXCEEDED`. */
  expire(): void {
    this.holder?.fail(this, new RpcError(Code.DEADLINE_EXCEEDED, "deadline exceeded"), true);
  }
}
