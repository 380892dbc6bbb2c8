/**
 * The metrics of one provider or one channel: per-method counters made once per method, plus
 * what is read when a snapshot is taken (connections, reconnects, the ZooKeeper session, logger
 * drops). Nothing here runs on the call path except {@linkcode MethodMetrics}' counters.
 *
 * @module
 */
import { codeName } from "../errors.ts";
import { MethodMetrics } from "./method_metrics.ts";
import { RecentCalls } from "./recent_calls.ts";

/** One method's counters in a {@linkcode MetricsSnapshot}. */
export interface MethodMetricsSnapshot {
  /** Package-qualified service name. */
  service: string;
  /** Method name as in the `.proto`. */
  method: string;
  /** Finished calls by status code name (`OK`, `UNAVAILABLE`, …); codes never seen are absent. */
  calls: Record<string, number>;
  /** Calls started and not finished. */
  inflight: number;
  /** Bytes of request bodies. */
  requestBytes: number;
  /** Bytes of response bodies. */
  responseBytes: number;
  /**
   * Streaming methods only: messages sent and received by this side (a provider sends responses
   * and receives requests, a channel the other way round).
   */
  messages?: { sent: number; received: number } | undefined;
  /**
   * Latency (of a stream: from its start to its end): per-bucket (not cumulative) counts for the bounds `LATENCY_BUCKETS_SECONDS` plus a
   * last `+Inf` bucket, how many calls, and their summed duration in seconds.
   */
  latency: { buckets: number[]; count: number; sumSeconds: number };
}

/** The ZooKeeper session of a provider's or channel's registry, when it is one. */
export interface ZooKeeperMetrics {
  /** `"connected"`, `"connecting"`, `"disconnected"`, `"expired"`, `"closed"` or `"idle"`. */
  state: string;
  /** Connections after the first one. */
  reconnects: number;
  /** Sessions that expired and were replaced. */
  sessionsReplaced: number;
  /** Registrations whose nodes were re-created after a reconnection. */
  reregistrations: number;
}

/**
 * Everything `provider.metrics()` / `channel.metrics()` reports, as plain data (JSON-ready).
 */
export interface MetricsSnapshot {
  /** `"server"` for a provider, `"client"` for a channel. */
  side: "server" | "client";
  /** Per method, in the order first seen. */
  methods: MethodMetricsSnapshot[];
  /** Open connections. */
  connections: number;
  /** Connections opened again to a provider after the previous one was lost (channels). */
  reconnects: number;
  /** The registry's ZooKeeper session, when the registry is a ZooKeeperRegistry. */
  zookeeper?: ZooKeeperMetrics | undefined;
  /** Log lines the logger dropped (an `AsyncLogger` over its queue bound); 0 for others. */
  loggerDropped: number;
}

/** What a {@linkcode CallMetrics} reads when a snapshot is taken. */
export interface MetricsSources {
  /** Open connections. */
  connections(): number;
  /** Reconnections so far. */
  reconnects?: (() => number) | undefined;
  /** The registry (its `sessionStats()` is read when it has one). */
  registry?: unknown;
  /** The logger (its `dropped` count is read when it has one). */
  logger?: unknown;
  /** Calls at least this long (ms) are kept with the failed ones for `/rpcz`. */
  slowCallMs?: number | undefined;
}

/**
 * The metrics of one side: per-method counters (made on first use, then kept) and the last
 * slow or failed calls.
 *
 * @example
 * ```ts
 * import { CallMetrics } from "./metrics.ts";
 * const metrics = new CallMetrics("server", { connections: () => 1 });
 * const m = metrics.method("demo.Echo", "Say");
 * m.begin(3);
 * m.end(0, 0.2, 5);
 * const snap = metrics.snapshot();
 * if (snap.methods[0]?.calls["OK"] !== 1 || snap.connections !== 1) throw new Error();
 * ```
 */
export class CallMetrics {
  /** `"server"` or `"client"`. */
  readonly side: "server" | "client";
  /** The last slow or failed calls. */
  readonly recent: RecentCalls = new RecentCalls();
  #methods = new Map<string, MethodMetrics>();
  #sources: MetricsSources;

  /** Metrics of `side`, reading `sources` at snapshot time. */
  constructor(side: "server" | "client", sources: MetricsSources) {
    this.side = side;
    this.#sources = sources;
  }

  /** The counters of `service`/`method`, made on first use. */
  method(service: string, method: string): MethodMetrics {
    const key = `${service}/${method}`;
    let m = this.#methods.get(key);
    if (m === undefined) {
      m = new MethodMetrics(service, method, this.recent, this.#sources.slowCallMs);
      this.#methods.set(key, m);
    }
    return m;
  }

  /** A copy of every counter now. */
  snapshot(): MetricsSnapshot {
    const s = this.#sources;
    const methods: MethodMetricsSnapshot[] = [];
    for (const m of this.#methods.values()) {
      const calls: Record<string, number> = {};
      m.calls.forEach((n, code) => {
        if (n > 0) calls[codeName(code)] = n;
      });
      methods.push({
        service: m.service,
        method: m.method,
        calls,
        inflight: m.inflight,
        requestBytes: m.requestBytes,
        responseBytes: m.responseBytes,
        ...(m.streaming && { messages: { sent: m.messagesSent, received: m.messagesReceived } }),
        latency: {
          buckets: [...m.latency.counts],
          count: m.latency.count,
          sumSeconds: m.latency.sumMs / 1000,
        },
      });
    }
    const dropped = (s.logger as { dropped?: unknown } | undefined)?.dropped;
    return {
      side: this.side,
      methods,
      connections: s.connections(),
      reconnects: s.reconnects?.() ?? 0,
      zookeeper: zooKeeperMetrics(s.registry),
      loggerDropped: typeof dropped === "number" ? dropped : 0,
    };
  }
}

function zooKeeperMetrics(registry: unknown): ZooKeeperMetrics | undefined {
  const stats = (registry as { sessionStats?: unknown } | undefined)?.sessionStats;
  if (typeof stats !== "function") return undefined;
  const z = stats.call(registry) as ZooKeeperMetrics;
  return {
    state: z.state,
    reconnects: z.reconnects,
    sessionsReplaced: z.sessionsReplaced,
    reregistrations: z.reregistrations,
  };
}
