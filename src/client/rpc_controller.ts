/**
 * The original's `RpcController`, for callers ported from C++ that use
 * {@linkcode RpcChannel.callMethod}.
 *
 * @module
 */
import { Code, RpcError } from "../errors.ts";

/**
 * Holds the outcome of one `callMethod`: `failed()`, `errorText()`, `code`, `reset()`, and the
 * provider's `responseMetadata`; `startCancel()` cancels the call in progress (as aborting its
 * `signal` option does: at any stage, registry lookup and connecting included).
 *
 * @example
 * ```ts
 * import { RpcController } from "./rpc_controller.ts";
 * const controller = new RpcController();
 * controller.setFailed("no such user");
 * if (!controller.failed() || controller.errorText() !== "no such user") throw new Error();
 * controller.reset();
 * if (controller.failed()) throw new Error();
 * ```
 */
export class RpcController {
  /** Status code of the last call (`Code.OK` when it succeeded). */
  code: number = Code.OK;
  /** The error of the last call, if it failed. */
  error: RpcError | undefined;
  /**
   * The response metadata of the last call (the handler's `ctx.responseMetadata`): from the
   * response when it succeeded, from the error (`error.metadata`) when it failed, `{}` when there
   * was none (and always with the `"mprpc-legacy"` protocol, which has no metadata).
   */
  responseMetadata: Record<string, string> = {};
  #text = "";
  #cancel: AbortController | undefined;

  /** True when the last call failed. */
  failed(): boolean {
    return this.code !== Code.OK;
  }

  /** Why the last call failed ("" when it did not). */
  errorText(): string {
    return this.#text;
  }

  /**
   * Cancels the call in progress: it ends with `CANCELLED` (reported on this controller) and the
   * provider is told, as when the call's `signal` aborts. `callMethod` starts with `reset()`, so
   * a cancel before the call does not carry over to it.
   *
   * @example Cancelling a call through its controller
   * ```ts
   * import { Code, RpcChannel, RpcController, StaticRegistry, parseProto } from "../../mod.ts";
   * const echo = parseProto(`syntax = "proto3"; package demo;
   *   message Msg { string text = 1; }
   *   service Echo { rpc Say(Msg) returns (Msg); }`).lookupService("demo.Echo");
   * // A registry that never answers: the call waits until cancelled.
   * const registry = new StaticRegistry();
   * registry.resolve = () => new Promise(() => {});
   * const channel = new RpcChannel({ registry });
   * const controller = new RpcController();
   * const call = channel.callMethod(echo.methods["Say"]!, controller, { text: "hi" });
   * controller.startCancel();
   * await call;
   * if (controller.code !== Code.CANCELLED || !controller.isCanceled()) throw new Error();
   * await channel.close();
   * ```
   */
  startCancel(): void {
    (this.#cancel ??= new AbortController()).abort();
  }

  /** True once `startCancel()` was called for the current call. */
  isCanceled(): boolean {
    return this.#cancel?.signal.aborted ?? false;
  }

  /** Aborted by `startCancel()`: what `callMethod` passes to the call as its signal. */
  get signal(): AbortSignal {
    return (this.#cancel ??= new AbortController()).signal;
  }

  /** Clears the outcome so the controller can be reused. */
  reset(): void {
    this.#cancel = undefined;
    this.code = Code.OK;
    this.error = undefined;
    this.responseMetadata = {};
    this.#text = "";
  }

  /** Marks the call failed with `reason` (code `UNKNOWN` unless an `RpcError` is given). */
  setFailed(reason: string | RpcError): void {
    if (reason instanceof RpcError) {
      this.error = reason;
      this.code = reason.code;
      this.#text = reason.message;
      this.responseMetadata = reason.metadata;
    } else {
      this.code = Code.UNKNOWN;
      this.#text = reason;
      this.error = new RpcError(Code.UNKNOWN, reason);
    }
  }
}
