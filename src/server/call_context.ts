/**
 * What a handler knows about the call it serves.
 *
 * @module
 */
import { Code, RpcError } from "../errors.ts";
import type { DeadlineWheel, Expirable } from "../util/deadline_wheel.ts";

/** The address of the peer of a connection. */
export interface PeerAddress {
  /** IP address of the peer. */
  host: string;
  /** TCP port of the peer. */
  port: number;
}

/** What a request says about its call (the native request's meta has these fields). */
export interface CallStart {
  /** The call id on its connection (0 for a protocol without ids). */
  readonly callId: number;
  /** Request metadata, if any. */
  readonly metadata?: Record<string, string> | undefined;
  /** The caller's remaining time, ms; 0 for no deadline. */
  readonly timeoutMs: number;
}

/** Where a call is served: the same object for every call of a connection. */
export interface CallSite {
  /** The caller's address. */
  readonly peer: PeerAddress;
  /** Where the call's deadline is timed (when the handler reads `signal`). */
  readonly wheel: DeadlineWheel;
}

/**
 * The second argument of every handler.
 *
 * `signal` is created on first use (most handlers never look at it, and the call path skips the
 * cost); it aborts with an {@linkcode RpcError} as reason when the caller cancels
 * (`CANCELLED`), the deadline passes (`DEADLINE_EXCEEDED`) or the provider shuts down
 * (`UNAVAILABLE`).
 *
 * @example A handler that honours cancellation
 * ```ts ignore
 * provider.notifyService(service, {
 *   async Slow(req, ctx) {
 *     await someWork({ signal: ctx.signal });
 *     return { ok: true, from: ctx.peer.host, user: ctx.metadata["user"] };
 *   },
 * });
 * ```
 */
export class CallContext {
  /** Package-qualified service name, e.g. `fixbug.UserServiceRpc`. */
  readonly service: string;
  /** Method name as in the `.proto`, e.g. `Login`. */
  readonly method: string;
  /** Request metadata (headers) sent by the caller. */
  readonly metadata: Record<string, string>;
  /** The caller's deadline as a `Date.now()` timestamp, or `undefined` when it set none. */
  readonly deadline: number | undefined;
  /** The caller's address. */
  readonly peer: PeerAddress;
  /**
   * Metadata to send back with the response (trailers), whether the call succeeds or fails
   * (merged with the error's own `metadata` then). The caller reads it with the call option
   * `onResponseMetadata`, `RpcController.responseMetadata`, or `RpcError.metadata`. Not sent by
   * the `"mprpc-legacy"` protocol, which has no metadata.
   *
   * @example A handler that tells the caller who served it
   * ```ts ignore
   * provider.notifyService(service, {
   *   Login(req, ctx) {
   *     ctx.responseMetadata["served-by"] = Deno.hostname();
   *     return { success: true };
   *   },
   * });
   * ```
   */
  readonly responseMetadata: Record<string, string> = {};
  /** The call id on its connection. */
  readonly callId: number;
  #responseHeaders: Record<string, string> | undefined;
  /** `Date.now()` when the request arrived. */
  readonly startedAt: number;
  #controller: AbortController | undefined;
  #reason: RpcError | undefined;
  #wheel: DeadlineWheel;
  /** The deadline's entry in the wheel, made when `signal` is first read. */
  #timer: Expirable | undefined;

  /**
   * @internal Created by the provider when `request` of method `desc` arrives at `site`
   * (objects that exist already: nothing is allocated for the arguments).
   */
  constructor(
    desc: { readonly service: string; readonly name: string },
    request: CallStart,
    site: CallSite,
  ) {
    const now = Date.now();
    this.service = desc.service;
    this.method = desc.name;
    this.callId = request.callId;
    this.metadata = request.metadata ?? {};
    this.startedAt = now;
    this.deadline = request.timeoutMs > 0 ? now + request.timeoutMs : undefined;
    this.peer = site.peer;
    this.#wheel = site.wheel;
  }

  /**
   * Streaming calls: metadata sent with the first response message (the caller reads it as
   * `stream.headers`); set it before the first `yield`. `responseMetadata` is sent when the
   * stream ends (`stream.trailers`).
   */
  get responseHeaders(): Record<string, string> {
    return this.#responseHeaders ??= {};
  }

  /** Aborted when the call is cancelled, times out, or the provider shuts down. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#reason !== undefined) this.#controller.abort(this.#reason);
      else if (this.deadline !== undefined) {
        this.#timer = { deadline: this.deadline, expire: () => this.expire() };
        this.#wheel.add(this.#timer);
      }
    }
    return this.#controller.signal;
  }

  /** True once the call was cancelled, timed out or shut down. */
  get aborted(): boolean {
    return this.#reason !== undefined;
  }

  /** @internal Aborts the call with `reason`. */
  abort(reason: RpcError): void {
    if (this.#reason !== undefined) return;
    this.#reason = reason;
    if (this.#timer) this.#wheel.remove(this.#timer);
    this.#controller?.abort(reason);
  }

  /** @internal The deadline passed. */
  expire(): void {
    this.abort(new RpcError(Code.DEADLINE_EXCEEDED, "deadline exceeded"));
  }

  /** @internal The call finished; releases its deadline entry. */
  finish(): void {
    if (this.#timer) this.#wheel.remove(this.#timer);
  }
}
