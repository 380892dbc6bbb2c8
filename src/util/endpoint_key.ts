/**
 * The one way an endpoint is written in keys, logs and errors.
 *
 * @module
 */

/**
 * `"host:port"` of an endpoint, IPv6 hosts in brackets (`"[::1]:8000"`).
 *
 * @example
 * ```ts
 * import { endpointKey } from "./endpoint_key.ts";
 * if (endpointKey({ host: "::1", port: 8000 }) !== "[::1]:8000") throw new Error();
 * if (endpointKey({ host: "127.0.0.1", port: 8000 }) !== "127.0.0.1:8000") throw new Error();
 * ```
 */
export function endpointKey(e: { readonly host: string; readonly port: number }): string {
  return e.host.includes(":") ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}
