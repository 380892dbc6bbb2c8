/**
 * What metrics and tracing add to each call, measured alone (the end-to-end comparison is
 * `deno task bench --only metrics`, which runs `mprpc metrics=off small 1x64` and
 * `mprpc+metrics small 1x64`): `deno bench -A bench/observe_bench.ts`.
 *
 * - the channel's observer around a call whose promise is already settled, against the bare
 *   call (metrics on, no tracing SDK: the one-at-a-time timed call and the untimed ones);
 * - a provider's call context with and without metrics (made, then ended);
 * - `tracingEnabled()` with no SDK registered (what every call pays for tracing then).
 *
 * Each benchmark handles 64 calls, the `1x64` shape of bench/run.ts.
 *
 * @module
 */
import { ClientObserver } from "../src/observe/client_observer.ts";
import { CallMetrics } from "../src/observe/metrics.ts";
import { MeteredCallContext } from "../src/observe/metered_call_context.ts";
import { tracingEnabled } from "../src/observe/tracing.ts";
import { CallContext, type CallSite } from "../src/server/call_context.ts";
import { DeadlineWheel } from "../src/util/deadline_wheel.ts";

const BATCH = 64;
const desc = { service: "bench.Echo", name: "Say" };
const payload = new Uint8Array(16);
const decoder = { decode: (b: Uint8Array) => b };
const sender = {
  call: (_d: unknown, p: { length: number }) => Promise.resolve(p),
};
const opts = {};
const observer = new ClientObserver(new CallMetrics("client", { connections: () => 0 }));

Deno.bench("client: bare call x64", { group: "client", baseline: true }, async () => {
  const ps = new Array<Promise<unknown>>(BATCH);
  for (let i = 0; i < BATCH; i++) ps[i] = sender.call(desc, payload);
  await Promise.all(ps);
});

Deno.bench("client: observed call (metrics on) x64", { group: "client" }, async () => {
  const ps = new Array<Promise<unknown>>(BATCH);
  for (let i = 0; i < BATCH; i++) {
    ps[i] = observer.call(sender, desc, payload, decoder, opts, 0, undefined);
  }
  await Promise.all(ps);
});

const wheel = new DeadlineWheel();
const site: CallSite = { peer: { host: "127.0.0.1", port: 1 }, wheel };
const start = { callId: 1, timeoutMs: 0 };
const server = new CallMetrics("server", { connections: () => 0 });
const m = server.method("bench.Echo", "Say");

// 64 calls in flight at once (made, then ended), as under the 1x64 load.
const plain = new Array<CallContext>(BATCH);
const metered = new Array<MeteredCallContext>(BATCH);

Deno.bench("server: call context x64", { group: "server", baseline: true }, () => {
  for (let i = 0; i < BATCH; i++) plain[i] = new CallContext(desc, start, site);
  for (let i = 0; i < BATCH; i++) plain[i]!.finish();
});

Deno.bench("server: metered call context x64", { group: "server" }, () => {
  for (let i = 0; i < BATCH; i++) metered[i] = new MeteredCallContext(desc, start, site, m, 16);
  for (let i = 0; i < BATCH; i++) {
    metered[i]!.finish();
    metered[i]!.done(0, 16);
  }
});

Deno.bench("tracingEnabled() with no SDK x64", { group: "tracing" }, () => {
  let n = 0;
  for (let i = 0; i < BATCH; i++) if (tracingEnabled()) n++;
  if (n !== 0) throw new Error("an SDK is registered");
});

globalThis.addEventListener("unload", () => wheel.close());
