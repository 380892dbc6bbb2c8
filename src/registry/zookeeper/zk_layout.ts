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

/** A registry node as read: its endpoint, or why it cannot be used. */
export type NodeRead =
  | { endpoint: Endpoint; problem?: undefined }
  | { endpoint?: undefined; problem: string };

/**
 * Reads a provider node. Data that is this registry's JSON (an object with `host` or `port`) must
 * be valid: a wrong type or a bad port makes the node unusable. A node without data, or whose data
 * is not such JSON (written by another tool), is read from its name (`host:port`, weight 1).
 */
export function decodeProvider(name: string, data: Uint8Array | undefined): NodeRead {
  if (!data || data.length === 0) return fromName(name, "no data");
  let j: unknown;
  try {
    j = JSON.parse(new TextDecoder().decode(data));
  } catch {
    return fromName(name, "data is not JSON");
  }
  if (typeof j !== "object" || j === null || Array.isArray(j)) {
    return fromName(name, "data is not a JSON object");
  }
  const o = j as Record<string, unknown>;
  if (!("host" in o) && !("port" in o)) return fromName(name, "no host or port in the data");
  const problem = providerDataProblem(o);
  if (problem !== undefined) return { problem };
  const e: Endpoint = {
    host: o.host as string,
    port: o.port as number,
    weight: o.weight === undefined ? 1 : o.weight as number,
  };
  if (o.methods !== undefined) e.methods = [...o.methods as string[]];
  return { endpoint: e };
}

/** What is wrong with a provider node's JSON object, or undefined when it can be used. */
function providerDataProblem(o: Record<string, unknown>): string | undefined {
  const { host, port, weight, methods } = o;
  if (host === undefined) return "host missing";
  if (typeof host !== "string") return `host is not a string: ${JSON.stringify(host)}`;
  if (host === "") return "host is empty";
  if (port === undefined) return "port missing";
  if (typeof port !== "number") return `port is not a number: ${JSON.stringify(port)}`;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return `port ${port} out of range 1..65535`;
  }
  if (weight !== undefined && !(typeof weight === "number" && weight >= 0 && weight < Infinity)) {
    return `weight is not a number >= 0: ${JSON.stringify(weight)}`;
  }
  if (
    methods !== undefined &&
    !(Array.isArray(methods) && methods.every((m) => typeof m === "string"))
  ) {
    return `methods is not a list of names: ${JSON.stringify(methods)}`;
  }
  return undefined;
}

function fromName(name: string, why: string): NodeRead {
  try {
    return { endpoint: { ...parseEndpoint(name), weight: 1 } };
  } catch {
    return { problem: `${why} and the node name is not host:port` };
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

/**
 * Parses a C++ method node's `ip:port` (tolerating a trailing NUL or whitespace); undefined when
 * the node has no data.
 */
export function decodeLegacy(data: Uint8Array | undefined): NodeRead | undefined {
  if (!data || data.length === 0) return undefined;
  const text = new TextDecoder().decode(data).replace(/[\0\s]+$/, "");
  try {
    return { endpoint: { ...parseEndpoint(text), weight: 1 } };
  } catch (err) {
    return { problem: (err as Error).message };
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
