/**
 * The console page the admin listener serves at `/`: one self-contained HTML document (no CDN,
 * no build step). Its script polls `/metrics.json` every second and keeps, per method, a ring of
 * the last 300 one-second samples (5 minutes) of call rate, error rate and p50/p99 latency (from
 * the histogram's per-second deltas), drawn as inline SVG charts, and for a streaming method its
 * open streams, messages sent and received (totals and per second, with a chart); it polls
 * `/registry.json` for the registry's view of every provider and `/rpcz.json` for the last slow
 * or failed calls (with the event loop that served each).
 *
 * What the script writes is also in the DOM as data attributes (a method's card has
 * `data-method="Service/Method"`, `data-rate`, `data-error-rate`, `data-p50-ms`, `data-p99-ms`,
 * `data-samples`, and for a streaming method `data-streams-open`, `data-messages-sent`,
 * `data-messages-received`, `data-messages-sent-rate`, `data-messages-received-rate`; the
 * header's `#streams` the open streams of every method; each provider row `data-service` and
 * `data-provider="host:port"`; each row of slow or failed calls `data-loop`), so a test in a
 * browser can read what is rendered.
 *
 * @module
 */
import { Code } from "../errors.ts";

/** Status code names by number, for the page's table of failed calls. */
const CODE_NAMES: string[] = [];
for (const [name, value] of Object.entries(Code)) CODE_NAMES[value] = name;

/**
 * The page's HTML.
 *
 * @example
 * ```ts
 * import { CONSOLE_PAGE_HTML } from "./console_page.ts";
 * if (!CONSOLE_PAGE_HTML.startsWith("<!doctype html>")) throw new Error();
 * if (/<script src|<link /.test(CONSOLE_PAGE_HTML)) throw new Error("self-contained");
 * ```
 */
export const CONSOLE_PAGE_HTML: string = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mprpc console</title>
<style>
:root{--fg:#1d2330;--muted:#6b7385;--line:#e3e6ec;--bg:#f6f7f9;--rate:#2f6fdb;--p50:#1b9e77;--p99:#d95f02;--err:#c0392b;--sent:#7b4fd6;--recv:#1f9bb5}
*{box-sizing:border-box}body{margin:0;font:13px/1.4 system-ui,-apple-system,Segoe UI,sans-serif;color:var(--fg);background:var(--bg)}
header{padding:12px 20px;background:#1d2330;color:#fff;display:flex;gap:4px 16px;align-items:baseline;flex-wrap:wrap}
header h1{font-size:16px;margin:0}header .kv{color:#c9cfdb}header .kv b{color:#fff}
main{padding:16px 20px;display:grid;gap:16px}
section{background:#fff;border:1px solid var(--line);border-radius:6px;padding:12px 14px}
section h2{font-size:14px;margin:0 0 8px}
.methods{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:12px}
.card{border:1px solid var(--line);border-radius:6px;padding:8px 10px}
.card h3{font-size:13px;margin:0 0 4px;word-break:break-all}.card h3 span{color:var(--muted);font-weight:normal}
.nums{display:flex;gap:12px;color:var(--muted);margin-bottom:4px;flex-wrap:wrap}.nums b{color:var(--fg)}
.chart{display:block;width:100%;height:54px;margin-top:2px}.chart text{font-size:9px;fill:var(--muted)}
.legend{font-size:11px;color:var(--muted)}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:3px 6px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:600}.bad{color:var(--err)}.ok{color:var(--p50)}.muted{color:var(--muted)}
a{color:var(--rate)}
</style></head>
<body>
<header><h1>mprpc console</h1>
<span class="kv">provider <b id="address">…</b></span>
<span class="kv">connections <b id="connections">…</b> · open streams <b id="streams">0</b></span>
<span class="kv">ZooKeeper <b id="zk">–</b></span>
<span class="kv">logger drops <b id="drops">0</b></span>
<span class="kv" id="status">connecting…</span>
<span><a href="/rpcz" style="color:#9cc0ff">/rpcz</a> <a href="/metrics" style="color:#9cc0ff">/metrics</a></span></header>
<main>
<section><h2>Methods <span class="legend">last 5 minutes, one sample per second:
<span style="color:var(--rate)">calls/s</span> · <span style="color:var(--p50)">p50</span> /
<span style="color:var(--p99)">p99</span> latency · <span style="color:var(--err)">errors/s</span> ·
streams: messages <span style="color:var(--sent)">sent/s</span> / <span style="color:var(--recv)">received/s</span></span></h2>
<div class="methods" id="methods"><p class="muted">No calls yet.</p></div></section>
<section><h2>Registry: every provider of every service</h2><div id="registry" class="muted">No registry.</div></section>
<section><h2>Last slow or failed calls <a href="/rpcz">(all)</a></h2><div id="rpcz" class="muted">None.</div></section>
</main>
<script>
"use strict";
const N = 300, W = 300, H = 54;
const CODES = ${JSON.stringify(CODE_NAMES)};
const series = new Map();
let bounds = [];
const $ = (id) => document.getElementById(id);
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  for (const k of kids) e.append(k);
  return e;
}
function quantile(counts, q) {
  let total = 0; for (const c of counts) total += c;
  if (total === 0) return NaN;
  const rank = q * total; let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i];
    if (c > 0 && seen + c >= rank) {
      const hi = bounds[i]; if (hi === undefined) return bounds[bounds.length - 1];
      const lo = i === 0 ? 0 : bounds[i - 1];
      return lo + (hi - lo) * Math.max(0, rank - seen) / c;
    }
    seen += c;
  }
  return bounds[bounds.length - 1];
}
function fmtMs(s) { return Number.isFinite(s) ? (s * 1000 < 10 ? (s * 1000).toFixed(2) : (s * 1000).toFixed(0)) + " ms" : "–"; }
function fmtRate(r) { return r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2); }
function poly(values, max, color) {
  let d = "", pen = false;
  const x0 = W - values.length;
  values.forEach((v, i) => {
    if (!Number.isFinite(v)) { pen = false; return; }
    const y = (H - 2 - (v / max) * (H - 12)).toFixed(1);
    d += (pen ? "L" : "M") + (x0 + i) + " " + y; pen = true;
  });
  return '<path d="' + d + '" fill="none" stroke="' + color + '" stroke-width="1.3"/>';
}
function chart(kind, lines, label) {
  let max = 0;
  for (const l of lines) for (const v of l.values) if (Number.isFinite(v) && v > max) max = v;
  const empty = max === 0;
  if (empty) max = 1;
  const svg = '<svg class="chart" data-chart="' + kind + '" viewBox="0 0 ' + W + ' ' + H + '" preserveAspectRatio="none">' +
    '<rect x="0" y="0" width="' + W + '" height="' + H + '" fill="#fafbfc"/>' +
    '<line x1="0" y1="' + (H - 2) + '" x2="' + W + '" y2="' + (H - 2) + '" stroke="#e3e6ec"/>' +
    lines.map((l) => poly(l.values, max, l.color)).join("") +
    '<text x="3" y="9">' + (empty ? "no data" : label(max)) + '</text></svg>';
  return svg;
}
function card(key) {
  let c = document.querySelector('[data-method="' + CSS.escape(key) + '"]');
  if (c) return c;
  const list = $("methods");
  if (list.querySelector("p")) list.textContent = "";
  const [service, method] = [key.slice(0, key.lastIndexOf("/")), key.slice(key.lastIndexOf("/") + 1)];
  c = el("div", { class: "card", "data-method": key },
    el("h3", {}, el("span", {}, service + "/"), method),
    el("div", { class: "nums" }), el("div", { class: "charts" }));
  list.append(c);
  return c;
}
function update(j) {
  bounds = j.bucketsSeconds;
  const m = j.metrics;
  $("address").textContent = j.provider.address;
  $("connections").textContent = m.connections;
  $("drops").textContent = m.loggerDropped;
  $("zk").textContent = m.zookeeper ? m.zookeeper.state + " (re-registrations " + m.zookeeper.reregistrations + ")" : "–";
  $("status").textContent = "updated " + new Date(j.time).toLocaleTimeString();
  let streams = 0;
  for (const x of m.methods) {
    const key = x.service + "/" + x.method;
    let s = series.get(key);
    if (!s) series.set(key, s = { rate: [], err: [], p50: [], p99: [], sent: [], recv: [], last: undefined });
    let total = 0; for (const n of Object.values(x.calls)) total += n;
    const errors = total - (x.calls.OK || 0);
    const msgs = x.messages;
    if (msgs) streams += x.inflight;
    const last = s.last;
    if (last && j.time > last.t) {
      const dt = (j.time - last.t) / 1000;
      const delta = x.latency.buckets.map((n, i) => n - (last.buckets[i] || 0));
      s.rate.push((total - last.total) / dt); s.err.push((errors - last.errors) / dt);
      s.p50.push(quantile(delta, 0.5)); s.p99.push(quantile(delta, 0.99));
      if (msgs) { s.sent.push((msgs.sent - last.sent) / dt); s.recv.push((msgs.received - last.recv) / dt); }
      for (const a of [s.rate, s.err, s.p50, s.p99, s.sent, s.recv]) if (a.length > N) a.splice(0, a.length - N);
    }
    s.last = { t: j.time, total, errors, buckets: x.latency.buckets, sent: msgs ? msgs.sent : 0, recv: msgs ? msgs.received : 0 };
    const c = card(key);
    const rate = s.rate.at(-1) ?? 0, err = s.err.at(-1) ?? 0;
    const p50 = s.p50.at(-1) ?? NaN, p99 = s.p99.at(-1) ?? NaN;
    c.dataset.rate = String(rate); c.dataset.errorRate = String(err);
    c.dataset.p50Ms = Number.isFinite(p50) ? String(p50 * 1000) : "";
    c.dataset.p99Ms = Number.isFinite(p99) ? String(p99 * 1000) : "";
    c.dataset.samples = String(s.rate.length); c.dataset.total = String(total);
    const nums = c.querySelector(".nums");
    nums.innerHTML = "";
    nums.append(
      el("span", {}, el("b", {}, fmtRate(rate)), " calls/s"),
      el("span", {}, "p50 ", el("b", {}, fmtMs(p50))), el("span", {}, "p99 ", el("b", {}, fmtMs(p99))),
      el("span", { class: err > 0 ? "bad" : "" }, el("b", {}, fmtRate(err)), " errors/s"),
      el("span", {}, msgs ? "open streams " : "in flight ", el("b", {}, x.inflight)), el("span", {}, "total ", el("b", {}, total)));
    if (msgs) {
      const sent = s.sent.at(-1) ?? 0, recv = s.recv.at(-1) ?? 0;
      Object.assign(c.dataset, { streamsOpen: String(x.inflight), messagesSent: String(msgs.sent),
        messagesReceived: String(msgs.received), messagesSentRate: String(sent), messagesReceivedRate: String(recv) });
      nums.append(
        el("span", { class: "sent" }, "messages sent ", el("b", {}, msgs.sent), " (" + fmtRate(sent) + "/s)"),
        el("span", { class: "received" }, "received ", el("b", {}, msgs.received), " (" + fmtRate(recv) + "/s)"));
    }
    c.querySelector(".charts").innerHTML =
      chart("rate", [{ values: s.rate, color: "var(--rate)" }], (v) => "max " + fmtRate(v) + " calls/s") +
      chart("latency", [{ values: s.p99, color: "var(--p99)" }, { values: s.p50, color: "var(--p50)" }], (v) => "max " + fmtMs(v)) +
      chart("errors", [{ values: s.err, color: "var(--err)" }], (v) => "max " + fmtRate(v) + " errors/s") +
      (msgs ? chart("messages", [{ values: s.sent, color: "var(--sent)" }, { values: s.recv, color: "var(--recv)" }], (v) => "max " + fmtRate(v) + " messages/s") : "");
  }
  $("streams").textContent = streams;
}
function renderRegistry(view) {
  const box = $("registry");
  if (!view) { box.textContent = "No registry."; box.className = "muted"; return; }
  box.className = "";
  const t = el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "service"), el("th", {}, "provider"), el("th", {}, "weight"), el("th", {}, "methods"))));
  const body = el("tbody", {});
  for (const s of view.services) {
    if (s.providers.length === 0) {
      body.append(el("tr", { "data-service": s.service }, el("td", {}, s.service), el("td", { class: s.error ? "bad" : "muted" }, s.error || "no provider"), el("td", {}), el("td", {})));
    }
    for (const p of s.providers) {
      const host = p.host.includes(":") ? "[" + p.host + "]" : p.host;
      body.append(el("tr", { "data-service": s.service, "data-provider": host + ":" + p.port },
        el("td", {}, s.service), el("td", {}, host + ":" + p.port), el("td", {}, p.weight ?? 1), el("td", {}, (p.methods || []).join(", "))));
    }
  }
  t.append(body);
  box.replaceChildren(t);
  if (view.error) box.append(el("p", { class: "bad" }, view.error));
}
function renderRpcz(calls) {
  const box = $("rpcz");
  if (calls.length === 0) { box.textContent = "None."; box.className = "muted"; return; }
  box.className = "";
  const t = el("table", {}, el("thead", {}, el("tr", {}, ...["ended", "side", "loop", "method", "code", "ms", "peer", "error"].map((h) => el("th", {}, h)))));
  const body = el("tbody", {});
  for (const c of calls.slice(0, 10)) {
    const loop = c.loop === undefined ? "" : c.loop === 0 ? "main" : "worker " + c.loop;
    body.append(el("tr", { "data-code": c.code, "data-loop": c.loop ?? "" }, el("td", {}, new Date(c.at).toLocaleTimeString()), el("td", {}, c.side), el("td", {}, loop),
      el("td", {}, c.service + "/" + c.method), el("td", { class: c.code ? "bad" : "" }, CODES[c.code] || String(c.code)), el("td", {}, c.ms.toFixed(1)),
      el("td", {}, c.peer || ""), el("td", {}, c.error || "")));
  }
  t.append(body);
  box.replaceChildren(t);
}
async function poll(path, then) {
  try {
    const r = await fetch(path, { cache: "no-store" });
    if (!r.ok) throw new Error(path + ": HTTP " + r.status);
    then(await r.json());
  } catch (e) { $("status").textContent = "error: " + e.message; }
}
let ticks = 0;
function tick() {
  poll("/metrics.json", update);
  if (ticks % 3 === 0) poll("/registry.json", (j) => renderRegistry(j.registry));
  if (ticks % 2 === 0) poll("/rpcz.json", (j) => renderRpcz(j.calls));
  ticks++;
}
tick();
setInterval(tick, 1000);
</script>
</body></html>
`;
