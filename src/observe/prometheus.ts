/**
 * Prometheus text exposition (format 0.0.4) of {@linkcode MetricsSnapshot}s: what the admin
 * listener answers at `GET /metrics`.
 *
 * @module
 */
import { LATENCY_BUCKETS_SECONDS } from "./histogram.ts";
import type { MetricsSnapshot } from "./metrics.ts";

/** The `Content-Type` of {@linkcode renderPrometheus}'s text. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/**
 * Renders snapshots as Prometheus text: per method `mprpc_<side>_calls_total{service,method,
 * code}`, `mprpc_<side>_call_duration_seconds` (histogram), `mprpc_<side>_calls_in_flight`,
 * `mprpc_<side>_request_bytes_total`, `mprpc_<side>_response_bytes_total`, and for streaming
 * methods `mprpc_<side>_stream_messages_sent_total`, `mprpc_<side>_stream_messages_received_total`;
 * per side
 * `mprpc_<side>_connections`, `mprpc_<side>_reconnects_total`,
 * `mprpc_<side>_logger_dropped_total`, and with ZooKeeper `mprpc_<side>_zookeeper_connected`,
 * `mprpc_<side>_zookeeper_reconnects_total`, `mprpc_<side>_zookeeper_sessions_replaced_total`,
 * `mprpc_<side>_zookeeper_reregistrations_total` (`<side>` is `server` or `client`).
 *
 * @example
 * ```ts
 * import { CallMetrics } from "./metrics.ts";
 * import { renderPrometheus } from "./prometheus.ts";
 * const metrics = new CallMetrics("server", { connections: () => 0 });
 * metrics.method("demo.Echo", "Say").end(0, 0.2, 0);
 * const text = renderPrometheus([metrics.snapshot()]);
 * if (!text.includes('mprpc_server_calls_total{service="demo.Echo",method="Say",code="OK"} 1')) {
 *   throw new Error(text);
 * }
 * ```
 */
export function renderPrometheus(snapshots: readonly MetricsSnapshot[]): string {
  const out: string[] = [];
  for (const snap of snapshots) renderSide(snap, out);
  return out.join("\n") + "\n";
}

function renderSide(snap: MetricsSnapshot, out: string[]): void {
  const p = `mprpc_${snap.side}`;
  const who = snap.side === "server" ? "served by this provider" : "made by this channel";
  const head = (name: string, type: string, help: string) => {
    out.push(`# HELP ${p}_${name} ${help}`, `# TYPE ${p}_${name} ${type}`);
  };
  head("calls_total", "counter", `Finished calls ${who}, by status code.`);
  for (const m of snap.methods) {
    const l = labels(m.service, m.method);
    for (const [code, n] of Object.entries(m.calls)) {
      out.push(`${p}_calls_total{${l},code="${code}"} ${n}`);
    }
  }
  head("call_duration_seconds", "histogram", `Duration of calls ${who}.`);
  for (const m of snap.methods) {
    const l = labels(m.service, m.method);
    let cumulative = 0;
    m.latency.buckets.forEach((n, i) => {
      cumulative += n;
      const le = LATENCY_BUCKETS_SECONDS[i];
      out.push(
        `${p}_call_duration_seconds_bucket{${l},le="${
          le === undefined ? "+Inf" : le
        }"} ${cumulative}`,
      );
    });
    out.push(`${p}_call_duration_seconds_sum{${l}} ${m.latency.sumSeconds}`);
    out.push(`${p}_call_duration_seconds_count{${l}} ${m.latency.count}`);
  }
  head("calls_in_flight", "gauge", `Calls ${who} started and not finished.`);
  for (const m of snap.methods) {
    out.push(`${p}_calls_in_flight{${labels(m.service, m.method)}} ${m.inflight}`);
  }
  head("request_bytes_total", "counter", `Bytes of request bodies of calls ${who}.`);
  for (const m of snap.methods) {
    out.push(`${p}_request_bytes_total{${labels(m.service, m.method)}} ${m.requestBytes}`);
  }
  head("response_bytes_total", "counter", `Bytes of response bodies of calls ${who}.`);
  for (const m of snap.methods) {
    out.push(`${p}_response_bytes_total{${labels(m.service, m.method)}} ${m.responseBytes}`);
  }
  const streams = snap.methods.filter((m) => m.messages !== undefined);
  if (streams.length > 0) {
    head("stream_messages_sent_total", "counter", `Messages sent on streams ${who}.`);
    for (const m of streams) {
      out.push(
        `${p}_stream_messages_sent_total{${labels(m.service, m.method)}} ${m.messages!.sent}`,
      );
    }
    head("stream_messages_received_total", "counter", `Messages received on streams ${who}.`);
    for (const m of streams) {
      out.push(
        `${p}_stream_messages_received_total{${labels(m.service, m.method)}} ${
          m.messages!.received
        }`,
      );
    }
  }
  head("connections", "gauge", "Open connections.");
  out.push(`${p}_connections ${snap.connections}`);
  head("reconnects_total", "counter", "Connections opened again after the previous one was lost.");
  out.push(`${p}_reconnects_total ${snap.reconnects}`);
  head("logger_dropped_total", "counter", "Log lines the logger dropped.");
  out.push(`${p}_logger_dropped_total ${snap.loggerDropped}`);
  const zk = snap.zookeeper;
  if (zk !== undefined) {
    head("zookeeper_connected", "gauge", "1 while the ZooKeeper session is connected.");
    out.push(`${p}_zookeeper_connected ${zk.state === "connected" ? 1 : 0}`);
    head("zookeeper_reconnects_total", "counter", "ZooKeeper connections after the first.");
    out.push(`${p}_zookeeper_reconnects_total ${zk.reconnects}`);
    head(
      "zookeeper_sessions_replaced_total",
      "counter",
      "ZooKeeper sessions expired and replaced.",
    );
    out.push(`${p}_zookeeper_sessions_replaced_total ${zk.sessionsReplaced}`);
    head(
      "zookeeper_reregistrations_total",
      "counter",
      "Registrations re-created in ZooKeeper after a reconnection.",
    );
    out.push(`${p}_zookeeper_reregistrations_total ${zk.reregistrations}`);
  }
}

function labels(service: string, method: string): string {
  return `service="${escape(service)}",method="${escape(method)}"`;
}

function escape(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
