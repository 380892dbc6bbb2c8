/**
 * `mprpc`: look at and call mprpc providers by hand (a grpcurl for mprpc).
 *
 * ```sh
 * deno task mprpc ls --zk 127.0.0.1:2181            # services and providers in ZooKeeper
 * deno task mprpc ls --zk 127.0.0.1:2181 --timeout-ms 3000 --max-nodes 500   # bounded
 * deno task mprpc ls --address 127.0.0.1:8000       # what one provider serves (reflection)
 * deno task mprpc describe fixbug.UserServiceRpc/Login --address 127.0.0.1:8000
 * deno task mprpc call fixbug.UserServiceRpc/Login '{"name":"emFuZyBzYW4=","pwd":"MTIz"}' \
 *   --zk 127.0.0.1:2181 [--metadata k=v]... [--timeout-ms N] [--proto f.proto [-I dir]...]
 * echo '{"service":""}' | deno task mprpc call mprpc.health.v1.Health/Check -d @ --address ...
 * deno task mprpc health --zk 127.0.0.1:2181 [Service]
 * deno task mprpc health --watch --address 127.0.0.1:8000   # a line per change, until Ctrl-C
 * ```
 *
 * Also runnable by URL: `deno run --allow-net --allow-read --allow-env <url>/scripts/mprpc.ts`.
 * Requests and responses use the protobuf JSON mapping (64-bit integers as strings, bytes as
 * base64). Without `--proto`, types come from the provider's reflection service. Exit status:
 * 0 OK; 1 an RPC error (printed as `CODE: message` on stderr), or `health` not `SERVING`;
 * 2 a usage error (one line on stderr). See docs/operations.md.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { flagProblem } from "./_cli.ts";
import { Code, codeName, RpcError } from "../src/errors.ts";
import { ConsoleLogger } from "../src/log/logger.ts";
import { RpcChannel } from "../src/client/rpc_channel.ts";
import type { Endpoint, Registry } from "../src/registry/registry.ts";
import { parseEndpoint } from "../src/registry/registry.ts";
import { ZooKeeperRegistry } from "../src/registry/zookeeper/zookeeper_registry.ts";
import { loadProto, ProtoError } from "../src/schema/load_proto.ts";
import { decodeFileDescriptors, fileDescriptors } from "../src/schema/file_descriptors.ts";
import { methodText, protoText } from "../src/schema/proto_text.ts";
import { fromProtoJson, toProtoJson } from "../src/schema/json_mapping.ts";
import { healthService } from "../src/ops/health_service.ts";
import { listServices, reflectService } from "../src/ops/reflection_client.ts";
import {
  DEFAULT_LIST_MAX_NODES,
  type ListedProvider,
  listRegistry,
} from "../src/ops/registry_listing.ts";
import type { protobuf } from "../src/deps.ts";
import type { CallOptions } from "../src/client/call_options.ts";

const USAGE = `usage: mprpc <command> [flags]
  ls (--zk host:port [--root /mprpc] [--max-nodes N] | --address host:port) [--json]
      [--timeout-ms N]
  describe Service[/Method] (--zk … | --address … | --proto file.proto [-I dir]…)
  call package.Service/Method ['{"json": "request"}' | -d @] (--zk … | --address …)
      [--metadata k=v]… [--timeout-ms N] [--proto file.proto [-I dir]…]
  health (--zk … | --address …) [Service] [--watch [--timeout-ms N]]
exit: 0 OK, 1 RPC error ("CODE: message" on stderr) or not SERVING, 2 usage error`;

/** A usage problem: one line, exit 2. */
class UsageError extends Error {}

const quiet = new ConsoleLogger("CRITICAL");

interface Flags {
  zk?: string | undefined;
  root?: string | undefined;
  address?: string | undefined;
  metadata?: string[] | undefined;
  "timeout-ms"?: string | undefined;
  "max-nodes"?: string | undefined;
  proto?: string[] | undefined;
  "import-path"?: string[] | undefined;
  data?: string | undefined;
  json?: boolean | undefined;
  watch?: boolean | undefined;
  help?: boolean | undefined;
}

function parse(): { command: string | undefined; args: string[]; flags: Flags } {
  try {
    const { values, positionals } = parseArgs({
      args: Deno.args,
      options: {
        zk: { type: "string" },
        root: { type: "string" },
        address: { type: "string" },
        metadata: { type: "string", multiple: true },
        "timeout-ms": { type: "string" },
        "max-nodes": { type: "string" },
        proto: { type: "string", multiple: true },
        "import-path": { type: "string", short: "I", multiple: true },
        data: { type: "string", short: "d" },
        json: { type: "boolean" },
        watch: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: true,
    });
    const [command, ...args] = positionals;
    return { command, args, flags: values };
  } catch (e) {
    throw new UsageError(flagProblem(e));
  }
}

/** A flag's value as a positive integer, or a usage error naming the flag. */
function positiveFlag(name: string, text: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && Number.isSafeInteger(n))) {
    throw new UsageError(`--${name}: "${text}" is not a positive integer`);
  }
  return n;
}

/** What every command shares: where to go, with which metadata and deadline. */
class Target {
  readonly timeoutMs: number;
  readonly maxNodes: number;
  readonly metadata: Record<string, string> = {};
  #registry: ZooKeeperRegistry | undefined;
  #channels: RpcChannel[] = [];

  constructor(readonly flags: Flags) {
    this.timeoutMs = positiveFlag("timeout-ms", flags["timeout-ms"] ?? "10000");
    this.maxNodes = positiveFlag("max-nodes", flags["max-nodes"] ?? `${DEFAULT_LIST_MAX_NODES}`);
    for (const kv of flags.metadata ?? []) {
      const i = kv.indexOf("=");
      if (i <= 0) throw new UsageError(`--metadata: "${kv}" is not key=value`);
      this.metadata[kv.slice(0, i)] = kv.slice(i + 1);
    }
    if (flags.address !== undefined) {
      try {
        parseEndpoint(flags.address);
      } catch (e) {
        throw new UsageError(`--address: ${(e as Error).message}`);
      }
    }
  }

  /** Needs exactly one of --zk and --address. */
  requireOne(): void {
    const { zk, address } = this.flags;
    if ((zk === undefined) === (address === undefined)) {
      throw new UsageError("give either --zk host:port or --address host:port");
    }
  }

  get registry(): Registry {
    return this.#registry ??= new ZooKeeperRegistry({
      connect: this.flags.zk!,
      ...(this.flags.root !== undefined ? { root: this.flags.root } : {}),
      connectTimeoutMs: this.timeoutMs,
      logger: quiet,
    });
  }

  channel(address: string | undefined = this.flags.address): RpcChannel {
    const c = new RpcChannel({
      ...(address !== undefined ? { address } : { registry: this.registry }),
      timeoutMs: this.timeoutMs,
      metadata: this.metadata,
      logger: quiet,
    });
    this.#channels.push(c);
    return c;
  }

  /** Every provider ZooKeeper holds (`ls --zk`), within `--timeout-ms` for the whole listing. */
  list(): Promise<ListedProvider[]> {
    return listRegistry(this.flags.zk!, {
      root: this.flags.root,
      timeoutMs: this.timeoutMs,
      maxNodes: this.maxNodes,
    });
  }

  /** The providers ZooKeeper lists for `service`, within `--timeout-ms`. */
  async resolve(service: string): Promise<Endpoint[]> {
    const late = new RpcError(
      Code.DEADLINE_EXCEEDED,
      `ZooKeeper ${this.flags.zk} did not list the providers of ${service} within ${this.timeoutMs} ms`,
    );
    const ac = new AbortController();
    const started = Date.now();
    const timer = setTimeout(() => ac.abort(late), this.timeoutMs);
    try {
      return await this.registry.resolve(service, { signal: ac.signal });
    } catch (e) {
      // The registry's own connect timeout is as long as ours and may fire first: either way the
      // listing took the whole --timeout-ms, and the line says so the same way.
      throw Date.now() - started >= this.timeoutMs ? late : e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** A channel to one provider of `service`: `--address`, or the first ZooKeeper lists. */
  async providerOf(service: string): Promise<RpcChannel> {
    if (this.flags.address !== undefined) return this.channel();
    const list = await this.resolve(service);
    if (list.length === 0) {
      throw new RpcError(Code.UNAVAILABLE, `no provider of ${service} is registered in ZooKeeper`);
    }
    return this.channel(`${list[0]!.host}:${list[0]!.port}`);
  }

  async close(): Promise<void> {
    await Promise.all(this.#channels.map((c) => c.close()));
    await this.#registry?.close();
  }
}

/** `--proto` files loaded, or undefined without the flag. */
async function localRoot(flags: Flags): Promise<protobuf.Root | undefined> {
  if (flags.proto === undefined) return undefined;
  try {
    return await loadProto(flags.proto, { includePaths: flags["import-path"] ?? [] });
  } catch (e) {
    if (e instanceof ProtoError) throw new UsageError(`--proto: ${e.message.split("\n")[0]}`);
    throw e;
  }
}

function lookupLocal(root: protobuf.Root, service: string): protobuf.Service {
  try {
    return root.lookupService(service);
  } catch {
    throw new UsageError(`--proto: no service ${service} in the files given`);
  }
}

/** `Service/Method` (or `Service.Method` when `method` is required) split. */
function splitName(text: string | undefined, methodRequired: boolean): [string, string?] {
  if (text === undefined || text === "") {
    throw new UsageError(
      methodRequired ? "name the method: package.Service/Method" : "name the service",
    );
  }
  const slash = text.lastIndexOf("/");
  if (slash > 0) return [text.slice(0, slash), text.slice(slash + 1)];
  if (methodRequired) {
    const dot = text.lastIndexOf(".");
    if (dot > 0) return [text.slice(0, dot), text.slice(dot + 1)];
    throw new UsageError(`"${text}" is not package.Service/Method`);
  }
  return [text];
}

function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

async function ls(t: Target): Promise<number> {
  t.requireOne();
  if (t.flags.zk !== undefined) {
    const list = await t.list();
    if (t.flags.json) {
      console.log(JSON.stringify(list, null, 2));
      return 0;
    }
    const now = Date.now();
    let last = "";
    for (const p of list) {
      if (p.service !== last) {
        console.log((last = p.service) + (p.layout === "cpp" ? " (C++ layout)" : ""));
      }
      console.log(`  ${row(p, now)}`);
    }
    if (list.length === 0) console.log("(no providers registered)");
    return 0;
  }
  const channel = t.channel();
  const names = await listServices(channel);
  const out: Record<string, string[]> = {};
  for (const name of names) {
    const { service } = await reflectService(channel, name);
    out[name] = service.methodsArray.map((m) =>
      `${m.name}(${m.resolvedRequestType!.fullName.slice(1)}) returns (${
        m.resolvedResponseType!.fullName.slice(1)
      })`
    );
  }
  if (t.flags.json) console.log(JSON.stringify(out, null, 2));
  else {
    for (const [name, methods] of Object.entries(out)) {
      console.log(name);
      for (const m of methods) console.log(`  ${m}`);
    }
  }
  return 0;
}

function row(p: ListedProvider, now: number): string {
  const kind = p.layout === "cpp" ? "C++" : "native";
  const parts = [p.address, kind];
  if (p.layout === "native") parts.push(`weight ${p.weight}`);
  parts.push(`up ${age(now - p.registeredAt)}`);
  if (p.session) parts.push(`session ${p.session}`);
  parts.push(`methods ${p.methods.join(",") || "-"}`);
  if (p.problem) parts.push(`UNUSABLE: ${p.problem}`);
  return parts.join("  ");
}

async function describe(t: Target, args: string[]): Promise<number> {
  if (args.length !== 1) throw new UsageError("describe takes one name: Service[/Method]");
  const [service, method] = splitName(args[0], false);
  const local = await localRoot(t.flags);
  let files;
  if (local !== undefined) {
    files = decodeFileDescriptors(fileDescriptors(lookupLocal(local, service)));
  } else {
    t.requireOne();
    files = (await reflectService(await t.providerOf(service), service)).files;
  }
  if (method !== undefined) {
    try {
      console.log(methodText(files, service, method).trimEnd());
    } catch (e) {
      throw new RpcError(Code.NOT_FOUND, (e as Error).message); // as reflection answers
    }
  } else console.log(files.map(protoText).join("\n").trimEnd());
  return 0;
}

async function readRequest(t: Target, args: string[]): Promise<unknown> {
  let text: string;
  if (t.flags.data !== undefined) {
    if (args.length > 1) throw new UsageError("give the request either as an argument or with -d");
    text = t.flags.data === "@" ? await new Response(Deno.stdin.readable).text() : t.flags.data;
  } else text = args[1] ?? "{}";
  if (args.length > 2) throw new UsageError(`unexpected argument "${args[2]}"`);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`request is not JSON: ${(e as Error).message}`);
  }
}

async function call(t: Target, args: string[]): Promise<number> {
  const [service, method] = splitName(args[0], true);
  const json = await readRequest(t, args);
  t.requireOne();
  const local = await localRoot(t.flags);
  const svc = local !== undefined
    ? lookupLocal(local, service)
    : (await reflectService(await t.providerOf(service), service)).service;
  const m = svc.methods[method!];
  if (m === undefined) {
    throw new UsageError(
      `${service} has no method "${method}" (methods: ${Object.keys(svc.methods).join(", ")})`,
    );
  }
  let request;
  try {
    request = fromProtoJson(m.resolvedRequestType!, json);
  } catch (e) {
    throw new UsageError(`request: ${(e as Error).message}`);
  }
  const channel = t.channel(); // with --zk: through the registry, balanced
  const res = await channel.stub(svc)[method!]!(request);
  console.log(JSON.stringify(toProtoJson(res, m.resolvedResponseType!), null, 2));
  return 0;
}

async function health(t: Target, args: string[]): Promise<number> {
  t.requireOne();
  if (args.length > 1) throw new UsageError(`unexpected argument "${args[1]}"`);
  const service = args[0] ?? "";
  let addresses: string[];
  if (t.flags.address !== undefined) addresses = [t.flags.address];
  else if (service !== "") {
    const list = await t.resolve(service);
    addresses = list.map((e) => `${e.host}:${e.port}`);
  } else {
    const list = await t.list();
    addresses = [...new Set(list.filter((p) => p.layout === "native").map((p) => p.address))];
  }
  if (addresses.length === 0) {
    throw new RpcError(
      Code.UNAVAILABLE,
      `no provider${service ? ` of ${service}` : ""} is registered in ZooKeeper`,
    );
  }
  if (t.flags.watch) return await watchHealth(t, addresses, service);
  let allServing = true;
  for (const address of addresses) {
    const stub = t.channel(address).stub(healthService());
    if (t.flags.address !== undefined) {
      // One provider: its status on stdout, or its error as any other RPC error.
      const { status } = await stub.Check!({ service });
      console.log(String(status));
      return status === "SERVING" ? 0 : 1;
    }
    let line: string;
    try {
      const { status } = await stub.Check!({ service });
      line = String(status);
      if (status !== "SERVING") allServing = false;
    } catch (e) {
      const err = RpcError.from(e);
      line = `${codeName(err.code)}: ${err.message}`;
      allServing = false;
    }
    console.log(`${address}  ${line}`);
  }
  return allServing ? 0 : 1;
}

type WatchStub = {
  Watch(req: { service: string }, o: CallOptions): AsyncIterable<{ status: string }>;
};

/**
 * `health --watch`: one line per status change of each provider (prefixed with its address
 * with `--zk`), until interrupted, `--timeout-ms` passes (no deadline without the flag), or the
 * provider closes. Exit 0 when every provider's last status was `SERVING`.
 */
async function watchHealth(t: Target, addresses: string[], service: string): Promise<number> {
  // A watch is long-lived: only --timeout-ms bounds it (the channel's default would end it).
  const timeoutMs = t.flags["timeout-ms"] === undefined ? 0 : t.timeoutMs;
  const one = t.flags.address !== undefined;
  const lasts = await Promise.all(addresses.map(async (address) => {
    const stub = t.channel(address).stub<WatchStub>(healthService());
    let last: string | undefined;
    try {
      for await (const { status } of stub.Watch({ service }, { timeoutMs })) {
        last = String(status);
        console.log(one ? last : `${address}  ${last}`);
      }
    } catch (e) {
      const err = RpcError.from(e);
      // The watch's own deadline ending it is how --timeout-ms stops watching.
      if (err.code === Code.DEADLINE_EXCEEDED && last !== undefined) return last;
      if (one) throw err;
      console.log(`${address}  ${codeName(err.code)}: ${err.message}`);
      return undefined;
    }
    return last;
  }));
  return lasts.every((s) => s === "SERVING") ? 0 : 1;
}

async function main(): Promise<number> {
  const { command, args, flags } = parse();
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  if (flags.watch && command !== "health") throw new UsageError("--watch goes with health only");
  const t = new Target(flags);
  try {
    switch (command) {
      case "ls":
        if (args.length > 0) throw new UsageError(`unexpected argument "${args[0]}"`);
        return await ls(t);
      case "describe":
        return await describe(t, args);
      case "call":
        return await call(t, args);
      case "health":
        return await health(t, args);
      case undefined:
        throw new UsageError("name a command: ls, describe, call or health");
      default:
        throw new UsageError(`unknown command "${command}" (ls, describe, call, health)`);
    }
  } finally {
    await t.close();
  }
}

let code: number;
try {
  code = await main();
} catch (e) {
  if (e instanceof UsageError) {
    console.error(`mprpc: ${e.message} (see --help)`);
    code = 2;
  } else {
    const err = e instanceof RpcError ? e : RpcError.from(e);
    console.error(`${codeName(err.code)}: ${err.message}`);
    code = 1;
  }
}
Deno.exit(code);
