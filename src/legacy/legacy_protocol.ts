/**
 * The C++ mprpc protocol as the provider serves it on its port, next to the native one: a
 * connection whose first bytes are not the native magic is a {@linkcode LegacyConnection}, and
 * its services are named without package.
 *
 * @module
 */
import type { Logger } from "../log/logger.ts";
import type { AcceptedConnection, ServerProtocol } from "../server/accepted_connection.ts";
import type { PeerAddress } from "../server/call_context.ts";
import type { Route, ServerHost } from "../server/server_connection.ts";
import type { ByteStream } from "../transport/framed_connection.ts";
import { shortServiceName } from "./legacy_codec.ts";
import { LegacyConnection, type LegacyHost } from "./legacy_connection.ts";

/**
 * Builds the map from a service's name without package to its full name, warning when two
 * services share a short name (the first one added keeps it).
 *
 * @example
 * ```ts
 * import { legacyServiceNames } from "./legacy_protocol.ts";
 * import { ConsoleLogger } from "../log/logger.ts";
 * const names = legacyServiceNames(["fixbug.UserServiceRpc"], new ConsoleLogger());
 * if (names.get("UserServiceRpc") !== "fixbug.UserServiceRpc") throw new Error();
 * ```
 */
export function legacyServiceNames(
  services: Iterable<string>,
  logger: Logger,
): Map<string, string> {
  const names = new Map<string, string>();
  for (const full of services) {
    const short = shortServiceName(full);
    const taken = names.get(short);
    if (taken !== undefined) {
      logger.warn("legacy protocol: two services share a name without package", {
        name: short,
        served: taken,
        unreachable: full,
      });
      continue;
    }
    names.set(short, full);
  }
  return names;
}

/**
 * The legacy protocol of a provider serving `services` (package-qualified names) through `host`.
 *
 * @example
 * ```ts ignore
 * const legacy = legacyProtocol(host, provider.services);
 * const conn = legacy.accept(socket, peer, firstBytes);
 * conn.start();
 * ```
 */
export function legacyProtocol(host: ServerHost, services: Iterable<string>): ServerProtocol {
  const names = legacyServiceNames(services, host.logger);
  const legacyHost: LegacyHost = {
    logger: host.logger,
    wheel: host.wheel,
    maxMessageBytes: host.maxMessageBytes,
    slowCallMs: host.slowCallMs,
    route(serviceName: string, methodName: string): Route | string {
      const full = names.get(serviceName);
      if (full === undefined) return `unknown legacy service "${serviceName}"`;
      return host.route(full, methodName);
    },
    callDelta: (delta) => host.callDelta(delta),
    connectionClosed: (conn) => host.connectionClosed(conn),
  };
  return {
    accept(conn: ByteStream, peer: PeerAddress, initial: Uint8Array): AcceptedConnection {
      return new LegacyConnection(legacyHost, conn, peer, initial);
    },
  };
}
