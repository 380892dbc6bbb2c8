/**
 * The original's `RpcController`, for callers ported from C++ that use
 * {@linkcode RpcChannel.callMethod}.
 *
 * @module
 */
import { Code, RpcError } from "../errors.ts";

/**
 * Holds the outcome of one `callMethod`: `failed()`, `errorText()`, `code`, `reset()`, and the
 * provider's `responseMetadata`.
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

  /** True when the last call failed. */
  failed(): boolean {
    return this.code !== Code.OK;
  }

  /** Why the last call failed ("" when it did not). */
  errorText(): string {
    return this.#text;
  }

  /** Clears the outcome so the controller can be reused. */
  reset(): void {
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
