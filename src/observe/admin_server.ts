/**
 * The admin HTTP listener of a provider (`Deno.serve`): Prometheus text at `GET /metrics`, the
 * same as JSON at `/metrics.json`, the console page at `/`, the last slow or failed calls at
 * `/rpcz` (and `/rpcz.json`), and the registry's view of every provider at `/registry.json`.
 *
 * @module
 */
import { codeName } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import { CONSOLE_PAGE_HTML } from "./console_page.ts";
import { LATENCY_BUCKETS_SECONDS } from "./histogram.ts";
import type { MetricsSnapshot } from "./metrics.ts";
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from "./prometheus.ts";
import type { RecentCall } from "./recent_calls.ts";
import type { RegistryView } from "./registry_view.ts";

/** Where the admin listener listens: `admin: { host, port }` of `RpcProviderOptions`. */
export interface AdminOptions {
  /** Address to listen on; default `127.0.0.1` (the admin pages are not authenticated). */
  host?: string | undefined;
  /** Port; `0` picks a free one (see `RpcProvider.adminAddress`). */
  port: number;
}

/** What the admin listener shows. */
export interface AdminSource {
  /** The provider's address (`host:port`) and services, for the page's title. */
  describe(): { address: string; services: string[] };
  /** The metrics now. */
  metrics(): MetricsSnapshot;
  /** The last slow or failed calls, newest first. */
  recentCalls(): RecentCall[];
  /** The registry's view of every provider of every service; undefined without a registry. */
  registryView(): Promise<RegistryView | undefined>;
}

/**
 * The admin listener; {@linkcode AdminServer.close} stops it.
 *
 * @example
 * ```ts
 * import { AdminServer } from "./admin_server.ts";
 * import { CallMetrics } from "./metrics.ts";
 * const metrics = new CallMetrics("server", { connections: () => 0 });
 * const admin = new AdminServer({ host: "127.0.0.1", port: 0 }, {
 *   describe: () => ({ address: "127.0.0.1:1", services: [] }),
 *   metrics: () => metrics.snapshot(),
 *   recentCalls: () => metrics.recent.list(),
 *   registryView: () => Promise.resolve(undefined),
 * });
 * const res = await fetch(`http://127.0.0.1:${admin.address.port}/metrics`);
 * if (!(await res.text()).includes("mprpc_server_connections 0")) throw new Error();
 * await admin.close();
 * ```
 */
export class AdminServer {
  #server: Deno.HttpServer<Deno.NetAddr>;
  #source: AdminSource;
  #logger: Logger | undefined;

  /** Starts listening at once (throws if the port is taken). */
  constructor(options: AdminOptions, source: AdminSource, logger?: Logger) {
    const port = options.port;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`admin.port must be an integer in 0..65535, got ${port}`);
    }
    this.#source = source;
    this.#logger = logger;
    this.#server = Deno.serve({
      hostname: options.host ?? "127.0.0.1",
      port,
      onListen: () => {},
      onError: (e) => {
        this.#logger?.warn("admin request failed", { error: String(e) });
        return new Response("internal error\n", { status: 500 });
      },
    }, (req) => this.#handle(req));
  }

  /** Where it listens. */
  get address(): { host: string; port: number } {
    return { host: this.#server.addr.hostname, port: this.#server.addr.port };
  }

  /** Stops listening and waits for requests in progress. Idempotent. */
  async close(): Promise<void> {
    await this.#server.shutdown();
  }

  async #handle(req: Request): Promise<Response> {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("only GET\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    const path = new URL(req.url).pathname;
    const s = this.#source;
    switch (path) {
      case "/":
        return text(CONSOLE_PAGE_HTML, "text/html; charset=utf-8");
      case "/metrics":
        return text(renderPrometheus([s.metrics()]), PROMETHEUS_CONTENT_TYPE);
      case "/metrics.json":
        return Response.json({
          time: Date.now(),
          provider: s.describe(),
          bucketsSeconds: LATENCY_BUCKETS_SECONDS,
          metrics: s.metrics(),
        }, { headers: NO_STORE });
      case "/rpcz.json":
        return Response.json({ calls: s.recentCalls() }, { headers: NO_STORE });
      case "/rpcz":
        return text(rpczPage(s.recentCalls()), "text/html; charset=utf-8");
      case "/registry.json":
        return Response.json({ registry: (await s.registryView()) ?? null }, {
          headers: NO_STORE,
        });
      default:
        return new Response("not found\n", { status: 404 });
    }
  }
}

const NO_STORE = { "cache-control": "no-store" };

function text(body: string, type: string): Response {
  return new Response(body, { headers: { "content-type": type, ...NO_STORE } });
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The event loop of a call as the pages show it: `main`, `worker k`, or nothing. */
function loopName(loop: number | undefined): string {
  return loop === undefined ? "" : loop === 0 ? "main" : `worker ${loop}`;
}

/**
 * `/rpcz`: the last slow or failed calls as a table (server-rendered, no script); each row's
 * `data-loop` holds the loop that served the call.
 */
function rpczPage(calls: RecentCall[]): string {
  const rows = calls.map((c) =>
    `<tr data-code="${c.code}" data-loop="${c.loop ?? ""}">` +
    `<td>${esc(new Date(c.at).toISOString())}</td><td>${c.side}</td><td>${loopName(c.loop)}</td>` +
    `<td>${esc(c.service)}/${esc(c.method)}</td><td>${codeName(c.code)}</td>` +
    `<td>${c.ms.toFixed(3)}</td><td>${esc(c.peer ?? "")}</td>` +
    `<td>${esc(JSON.stringify(c.metadata ?? {}))}</td><td>${esc(c.error ?? "")}</td></tr>`
  ).join("\n");
  return `<!doctype html><html><head><meta charset="utf-8"><title>mprpc rpcz</title>
<style>body{font:13px system-ui,sans-serif;margin:16px}table{border-collapse:collapse}
td,th{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left}</style></head><body>
<h1>Last slow or failed calls</h1><p><a href="/">console</a> · <a href="/rpcz.json">JSON</a></p>
<table><thead><tr><th>ended</th><th>side</th><th>loop</th><th>method</th><th>code</th><th>ms</th>
<th>peer</th><th>metadata</th><th>error</th></tr></thead><tbody>
${rows}
</tbody></table></body></html>
`;
}
