/**
 * Status codes and the error type that every failed call rejects with.
 *
 * @module
 */
import { errorMessage } from "./util/error_message.ts";

/**
 * Status codes with gRPC's numbering and names.
 *
 * @example Checking a code
 * ```ts
 * import { Code } from "./errors.ts";
 * if (Code.UNAVAILABLE !== 14) throw new Error("gRPC numbering");
 * ```
 */
export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** A status code number, one of the values of {@linkcode Code}. */
export type Code = typeof Code[keyof typeof Code];

const NAMES: string[] = [];
for (const [name, value] of Object.entries(Code)) NAMES[value] = name;

/**
 * The name of a status code (`14` → `"UNAVAILABLE"`); unknown numbers give `"CODE_<n>"`.
 *
 * @example
 * ```ts
 * import { Code, codeName } from "./errors.ts";
 * if (codeName(Code.NOT_FOUND) !== "NOT_FOUND") throw new Error();
 * ```
 */
export function codeName(code: number): string {
  return NAMES[code] ?? `CODE_${code}`;
}

/** Options of {@linkcode RpcError}. */
export interface RpcErrorOptions {
  /** Key/value metadata sent with the error (trailers). */
  metadata?: Record<string, string>;
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * The error a failed call rejects with, and that a handler throws to answer with a code.
 *
 * @example Throwing from a handler and reading it at the caller
 * ```ts
 * import { Code, RpcError } from "./errors.ts";
 * const err = new RpcError(Code.NOT_FOUND, "no such user: 42");
 * if (err.code !== Code.NOT_FOUND || err.message !== "no such user: 42") throw err;
 * ```
 */
export class RpcError extends Error {
  /** The status code, from {@linkcode Code}. */
  readonly code: number;
  /** Metadata that came with the error. */
  readonly metadata: Record<string, string>;

  /** Creates an error with a code and a message. */
  constructor(code: number, message: string, options: RpcErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "RpcError";
    this.code = code;
    this.metadata = options.metadata ?? {};
  }

  /** The name of {@linkcode RpcError.code}, e.g. `"UNAVAILABLE"`. */
  get codeName(): string {
    return codeName(this.code);
  }

  /** `"[UNAVAILABLE] message"`. */
  override toString(): string {
    return `RpcError [${this.codeName}] ${this.message}`;
  }

  /**
   * Turns anything thrown into an `RpcError`: an `RpcError` is returned as is, anything else
   * becomes `code` (default `INTERNAL`) with its message.
   */
  static from(err: unknown, code: number = Code.INTERNAL): RpcError {
    if (err instanceof RpcError) return err;
    const message = errorMessage(err);
    return new RpcError(code, message, { cause: err });
  }
}
