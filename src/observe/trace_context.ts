/**
 * The W3C Trace Context `traceparent` header (version 00), carried in call metadata so that a
 * trace follows a call from caller to provider, and on through the calls its handler makes.
 *
 * @module
 */
import { createTraceState, isSpanContextValid, type SpanContext } from "../deps.ts";

/** The metadata key of the W3C `traceparent` header. */
export const TRACEPARENT = "traceparent";
/** The metadata key of the W3C `tracestate` header. */
export const TRACESTATE = "tracestate";

const PATTERN = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * `span`'s context as a `traceparent` value: `00-<trace id>-<span id>-<flags>`.
 *
 * @example
 * ```ts
 * import { formatTraceparent } from "./trace_context.ts";
 * const value = formatTraceparent({
 *   traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
 *   spanId: "00f067aa0ba902b7",
 *   traceFlags: 1,
 * });
 * if (value !== "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01") throw new Error();
 * ```
 */
export function formatTraceparent(span: SpanContext): string {
  return `00-${span.traceId}-${span.spanId}-${
    (span.traceFlags & 0xff).toString(16).padStart(2, "0")
  }`;
}

/**
 * The remote span context named by a `traceparent` value (and `tracestate`, if any), or
 * undefined when it is missing or malformed (a bad header starts a new trace, it never fails
 * the call).
 *
 * @example
 * ```ts
 * import { parseTraceparent } from "./trace_context.ts";
 * const sc = parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
 * if (sc?.spanId !== "00f067aa0ba902b7" || !sc.isRemote) throw new Error();
 * if (parseTraceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01")) {
 *   throw new Error("an all-zero trace id is invalid");
 * }
 * ```
 */
export function parseTraceparent(
  value: string | undefined,
  state?: string | undefined,
): SpanContext | undefined {
  if (value === undefined) return undefined;
  const m = PATTERN.exec(value.trim());
  if (m === null || m[1] === "ff" || (m[1] === "00" && m[5] !== undefined)) return undefined;
  const sc: SpanContext = {
    traceId: m[2]!,
    spanId: m[3]!,
    traceFlags: parseInt(m[4]!, 16),
    isRemote: true,
  };
  if (state !== undefined && state !== "") sc.traceState = createTraceState(state);
  return isSpanContextValid(sc) ? sc : undefined;
}
