/**
 * What a handler threw, made safe: the {@linkcode RpcError} sent to the caller (never with a
 * stack trace) and a one-line rendering for the provider's log that cannot itself throw.
 *
 * @module
 */
import { Code, RpcError } from "../errors.ts";

/** Longest rendering of a thrown value in a log line. */
const MAX_RENDERED = 2000;

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

/**
 * `thrown` as text for a log line: an Error's name, message and stack; other values as JSON
 * where possible. Never throws, whatever getters, proxies or cycles `thrown` holds.
 */
export function renderThrown(thrown: unknown): string {
  let text: string;
  try {
    text = render(thrown);
  } catch {
    text = `[unprintable ${kindOf(thrown)}]`;
  }
  return text.length > MAX_RENDERED ? `${text.slice(0, MAX_RENDERED)}...` : text;
}

function render(thrown: unknown): string {
  if (thrown instanceof Error) {
    const stack = thrown.stack;
    const head = `${thrown.name}: ${errorMessage(thrown)}`;
    return typeof stack === "string" && stack.length > 0 ? stack : head;
  }
  switch (typeof thrown) {
    case "string":
      return JSON.stringify(thrown);
    case "undefined":
      return "undefined";
    case "symbol":
    case "function":
    case "bigint":
      return `${kindOf(thrown)} ${String(thrown)}`;
    case "object": {
      if (thrown === null) return "null";
      const json = JSON.stringify(thrown, (_k, v) => typeof v === "bigint" ? `${v}n` : v);
      return json === undefined ? kindOf(thrown) : `${kindOf(thrown)} ${json}`;
    }
    default:
      return String(thrown);
  }
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
