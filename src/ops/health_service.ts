/**
 * The built-in health service, `mprpc.health.v1.Health` (proto/health.proto), numbered as
 * `grpc.health.v1`: `Check({ service })` answers `SERVING` while the provider serves,
 * `NOT_SERVING` once it is told so (`RpcProvider.setServing(false)`) or its `close()` has
 * started, and `SERVICE_UNKNOWN` for a service it does not serve (a status, not an error).
 * `service: ""` asks about the whole provider.
 *
 * @module
 */
import type { protobuf } from "../deps.ts";
import { parseProto } from "../schema/load_proto.ts";
import type { Handler } from "../server/server_connection.ts";

/** The text of proto/health.proto (embedded, so a provider imported by URL reads no file). */
export const HEALTH_PROTO =
  `// The health service every provider serves (unless \`health: false\`): see docs/operations.md.
// Statuses are numbered as in grpc.health.v1. src/ops/health_service.ts embeds this file.
syntax = "proto3";

package mprpc.health.v1;

message HealthCheckRequest {
  string service = 1; // package-qualified service name; "" = the whole provider
}

message HealthCheckResponse {
  enum ServingStatus {
    UNKNOWN = 0;
    SERVING = 1;
    NOT_SERVING = 2;     // the provider is shutting down (or the service is not serving)
    SERVICE_UNKNOWN = 3; // the provider does not serve this service
  }
  ServingStatus status = 1;
}

service Health {
  rpc Check(HealthCheckRequest) returns (HealthCheckResponse);
  // The current status at once, then every change, until the caller cancels or the provider
  // closes (its close() sends NOT_SERVING, then ends the stream).
  rpc Watch(HealthCheckRequest) returns (stream HealthCheckResponse);
}
`;

/** The package-qualified name of the health service. */
export const HEALTH_SERVICE = "mprpc.health.v1.Health";

/** Health statuses, numbered as in `grpc.health.v1`. */
export const HealthStatus = {
  UNKNOWN: 0,
  SERVING: 1,
  NOT_SERVING: 2,
  SERVICE_UNKNOWN: 3,
} as const;

/** The name of a health status, as `Check` answers it (`"SERVING"`, ...). */
export type HealthStatusName = keyof typeof HealthStatus;

let service: protobuf.Service | undefined;

/**
 * The health service's reflection object (parsed once).
 *
 * @example Checking a provider's health by hand
 * ```ts
 * import { RpcChannel, RpcProvider } from "../../mod.ts";
 * import { healthService } from "./health_service.ts";
 * const provider = new RpcProvider({ host: "127.0.0.1", port: 0 });
 * await provider.start();
 * const channel = new RpcChannel({ address: provider.address, timeoutMs: 5000 });
 * const health = channel.stub(healthService());
 * const { status } = await health.Check!({ service: "" });
 * if (status !== "SERVING") throw new Error(String(status));
 * await channel.close();
 * await provider.close();
 * ```
 */
export function healthService(): protobuf.Service {
  return service ??= parseProto(HEALTH_PROTO, "health.proto").lookupService(HEALTH_SERVICE);
}

/** What the health service asks its provider. */
export interface HealthSource {
  /** Whether the provider serves (false once told not to, or closing). */
  serving(): boolean;
  /** Whether the provider serves `service` (package-qualified). */
  has(service: string): boolean;
  /** Whether the provider's `close()` has started (a `Watch` ends after saying so). */
  closing(): boolean;
  /**
   * Calls `listener` after the provider's health may have changed (`setServing`, `close()`
   * starting); returns the function that stops calling it.
   */
  onChange(listener: () => void): () => void;
}

/** The status `Check` answers for `service` (`""`: the whole provider). */
export function checkStatus(source: HealthSource, service: string): HealthStatusName {
  if (service !== "" && !source.has(service)) return "SERVICE_UNKNOWN";
  return source.serving() ? "SERVING" : "NOT_SERVING";
}

/** The handlers of the health service over `source`. */
export function healthHandlers(source: HealthSource): Record<string, Handler> {
  return {
    Check: (req: { service: string }) => ({ status: checkStatus(source, req.service) }),
    Watch: (req: { service: string }, ctx: { signal: AbortSignal }) =>
      watchStatus(source, req.service, ctx.signal),
  };
}

/**
 * The statuses of `service` (`""`: the whole provider): the current one at once, then each
 * change, until `signal` aborts (the caller cancelled) or the provider's `close()` has started
 * (after saying `NOT_SERVING`).
 *
 * @example Following a source's changes
 * ```ts
 * import { watchStatus } from "./health_service.ts";
 * let serving = true;
 * const listeners = new Set<() => void>();
 * const source = {
 *   serving: () => serving,
 *   has: () => true,
 *   closing: () => false,
 *   onChange: (l: () => void) => (listeners.add(l), () => listeners.delete(l)),
 * };
 * const ac = new AbortController();
 * const it = watchStatus(source, "", ac.signal);
 * if ((await it.next()).value?.status !== "SERVING") throw new Error();
 * serving = false;
 * listeners.forEach((l) => l());
 * if ((await it.next()).value?.status !== "NOT_SERVING") throw new Error();
 * ac.abort();
 * await it.return(undefined);
 * if (listeners.size !== 0) throw new Error("still listening");
 * ```
 */
export async function* watchStatus(
  source: HealthSource,
  service: string,
  signal: AbortSignal,
): AsyncGenerator<{ status: HealthStatusName }> {
  let wake: (() => void) | undefined;
  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  let changed = true; // the first status goes out at once
  const off = source.onChange(() => {
    changed = true;
    poke();
  });
  signal.addEventListener("abort", poke, { once: true });
  try {
    let last: HealthStatusName | undefined;
    while (!signal.aborted) {
      if (!changed) await new Promise<void>((resolve) => wake = resolve);
      if (signal.aborted) return;
      changed = false;
      const status = checkStatus(source, service);
      if (status !== last) {
        last = status;
        yield { status };
      }
      if (source.closing()) return;
    }
  } finally {
    off();
    signal.removeEventListener("abort", poke);
  }
}
