/**
 * Where {@linkcode ZooKeeperRegistry} keeps things in ZooKeeper and what the nodes hold
 * (private to the registry; the layout itself is documented in docs/zookeeper.md):
 *
 * - `/<root>/<package.Service>/providers/<host>:<port>`: ephemeral, JSON data;
 * - legacy (the C++ mprpc's): persistent `/<Service>` (empty data) and ephemeral
 *   `/<Service>/<Method>` holding `ip:port` in ASCII.
 *
 * @module
 */
import { Buffer } from "../../deps.ts";
import {
  type Endpoint,
  endpointKey,
  parseEndpoint,
  type ServiceRegistration,
} from "../registry.ts";

/** The protocol version written into provider nodes. */
export const PROTOCOL_VERSION = 1;

/** What a provider node's JSON holds. */
export interface ProviderNodeData {
  host: string;
  port: number;
  methods: string[];
  protocolVersion: number;
  weight: number;
  pid: number;
  /** ISO 8601 time the registering process started its registry. */
  startTime: string;
}

/**
 * Checks and normalizes a root path: `"/mprpc"`, `"/a/b"`; `"/"` or `""` mean the top level
 * (returned as `""`).
 *
 * @throws {TypeError} when the root does not start with `/` or has empty segments.
 */
export function normalizeRoot(root: string): string {
  if (root === "" || root === "/") return "";
  const trimmed = root.replace(/\/+$/, "");
  if (!trimmed.startsWith("/") || trimmed.slice(1).split("/").some((s) => s === "")) {
    throw new TypeError(
      `Invalid ZooKeeper root "${root}": expected an absolute path like "/mprpc"`,
    );
  }
  return trimmed;
}

/**
 * Checks a package-qualified service name (`fixbug.UserServiceRpc`).
 *
 * @throws {TypeError} when empty, with a leading dot, or containing `/`.
 */
export function checkServiceName(service: string): void {
  if (
    typeof service !== "string" || service === "" || service.startsWith(".") ||
    service.includes("/")
  ) {
    throw new TypeError(
      `Invalid service name ${JSON.stringify(service)}: expected a package-qualified name ` +
        `without a leading dot, like "fixbug.UserServiceRpc"`,
    );
  }
}

/** `/<root>/<service>` */
export function servicePath(root: string, service: string): string {
  return `${root}/${service}`;
}

/** `/<root>/<service>/providers` */
export function providersPath(root: string, service: string): string {
  return `${root}/${service}/providers`;
}

/** `/<root>/<service>/providers/<host>:<port>` */
export function providerPath(
  root: string,
  reg: { service: string; host: string; port: number },
): string {
  return `${providersPath(root, reg.service)}/${endpointKey(reg)}`;
}

/** The JSON data of a provider node. */
export function encodeProvider(reg: ServiceRegistration, startTime: string): Buffer {
  const data: ProviderNodeData = {
    host: reg.host,
    port: reg.port,
    methods: [...reg.methods],
    protocolVersion: PROTOCOL_VERSION,
    weight: reg.weight ?? 1,
    pid: Deno.pid,
    startTime,
  };
  return Buffer.from(JSON.stringify(data));
}

/**
 * Reads a provider node: its JSON when valid, otherwise the endpoint in the node's name (a node
 * written by another tool). Undefined when neither makes sense.
 */
export function decodeProvider(name: string, data: Uint8Array | undefined): Endpoint | undefined {
  if (data && data.length > 0) {
    try {
      const j = JSON.parse(new TextDecoder().decode(data)) as Partial<ProviderNodeData>;
      if (
        typeof j.host === "string" && typeof j.port === "number" && j.port >= 1 && j.port <= 65535
      ) {
        const e: Endpoint = {
          host: j.host,
          port: j.port,
          weight: typeof j.weight === "number" ? j.weight : 1,
        };
        if (Array.isArray(j.methods)) e.methods = j.methods.filter((m) => typeof m === "string");
        return e;
      }
    } catch { /* fall back to the node name */ }
  }
  try {
    return { ...parseEndpoint(name), weight: 1 };
  } catch {
    return undefined;
  }
}

/** The C++ layout's service name: the last segment of the full name (`fixbug.UserServiceRpc` → `UserServiceRpc`). */
export function legacyServiceName(service: string): string {
  return service.slice(service.lastIndexOf(".") + 1);
}

/** `/<Service>` of the C++ layout. */
export function legacyServicePath(serviceName: string): string {
  return `/${serviceName}`;
}

/** `/<Service>/<Method>` of the C++ layout. */
export function legacyMethodPath(serviceName: string, methodName: string): string {
  return `/${serviceName}/${methodName}`;
}

/** `ip:port` in ASCII, no terminator: the C++ layout's method node data. */
export function encodeLegacy(e: { host: string; port: number }): Buffer {
  return Buffer.from(`${e.host}:${e.port}`, "latin1");
}

/** Parses a C++ method node's `ip:port` (tolerating a trailing NUL or whitespace). */
export function decodeLegacy(data: Uint8Array | undefined): Endpoint | undefined {
  if (!data || data.length === 0) return undefined;
  const text = new TextDecoder().decode(data).replace(/[\0\s]+$/, "");
  try {
    return { ...parseEndpoint(text), weight: 1 };
  } catch {
    return undefined;
  }
}

/** Sorts endpoints by `host:port` (so lists compare and print stably). */
export function sortEndpoints(list: Endpoint[]): Endpoint[] {
  return list.sort((a, b) =>
    endpointKey(a) < endpointKey(b) ? -1 : endpointKey(a) > endpointKey(b) ? 1 : 0
  );
}

/** Whether two sorted endpoint lists are equal (address, weight, methods). */
export function sameEndpoints(a: Endpoint[], b: Endpoint[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((x, i) => {
    const y = b[i]!;
    return endpointKey(x) === endpointKey(y) && (x.weight ?? 1) === (y.weight ?? 1) &&
      (x.methods ?? []).join(",") === (y.methods ?? []).join(",");
  });
}
