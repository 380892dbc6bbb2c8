/**
 * What a handler threw, made safe: the {@linkcode RpcError} sent to the caller (never with a
 * stack trace). The provider logs the thrown value itself; its loggers render any value.
 *
 * @module
 */
import { Code, RpcError } from "../errors.ts";

/**
 * The status a caller gets for `thrown`: an {@linkcode RpcError} keeps its code and message; an
 * `Error` becomes `INTERNAL` with its message (not its stack); a string becomes `INTERNAL` with
 * that string; anything else (`undefined`, `null`, a plain object...) becomes `INTERNAL` saying
 * only what kind of value was thrown.
 */
export function thrownToRpcError(thrown: unknown): RpcError {
  let message: string;
  try {
    if (thrown instanceof RpcError) return thrown;
    if (thrown instanceof Error) message = errorMessage(thrown);
    else if (typeof thrown === "string") message = thrown;
    else message = `handler failed: threw ${kindOf(thrown)}`;
  } catch {
    // A proxy whose traps throw: say only that it was an object.
    message = `handler failed: threw ${kindOf(thrown)}`;
  }
  return new RpcError(Code.INTERNAL, message || "handler failed", { cause: thrown });
}

function errorMessage(e: Error): string {
  try {
    const m = e.message;
    return typeof m === "string" ? m : "";
  } catch {
    return "";
  }
}

function kindOf(v: unknown): string {
  if (v === null) return "null";
  switch (typeof v) {
    case "undefined":
      return "undefined";
    case "object":
      return "an object";
    case "number":
    case "boolean":
    case "bigint":
    case "symbol":
    case "function":
    case "string":
      return `a ${typeof v}`;
  }
  return "a value";
}
