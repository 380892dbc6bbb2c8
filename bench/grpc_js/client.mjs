// The @grpc/grpc-js caller of the benchmark suite's optional gRPC comparison (bench/run.ts --grpc):
// the same closed loop as bench/_load.ts (`depth` workers per connection, each awaiting its call
// before issuing the next; a warm-up, then a measured window) calling
// fixbug.UserServiceRpc.Login with the `small` request of bench/_shapes.ts (100 bytes encoded).
//
// Usage: node bench/grpc_js/client.mjs PORT CONNECTIONS DEPTH WARMUP_MS DURATION_MS [PEER_PID]
// Every connection is its own grpc.Channel with a local subchannel pool (so 8 connections are 8
// TCP connections, not one shared subchannel). Prints one JSON line
// {"result":{calls,errors,seconds,callsPerSec,p50Us,p99Us,maxUs,cpuPer100k,rss[,firstError]}}
// and exits; CPU and RSS come from /proc for this process and PEER_PID (the server), like
// bench/_proc.ts.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";

const [port, conns, depth, warmupMs, durationMs, peerArg] = process.argv.slice(2).map(Number);
for (const [name, v] of Object.entries({ port, conns, depth, warmupMs, durationMs })) {
  if (!Number.isInteger(v) || v < 0) {
    throw new TypeError(`${name} must be a non-negative integer, got ${v}`);
  }
}
const peerPid = peerArg > 0 ? peerArg : undefined;

const PROTO = fileURLToPath(new URL("../../examples/user/user.proto", import.meta.url));
const definition = protoLoader.loadSync(PROTO, {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  arrays: true,
});
const UserServiceRpc = grpc.loadPackageDefinition(definition).fixbug.UserServiceRpc;

// 2 + 40 + 2 + 56 = 100 bytes encoded, as bench/_shapes.ts's `small` request.
const request = { name: Buffer.alloc(40, 0x6e), pwd: Buffer.alloc(56, 0x70) };

// ---- /proc sampling (bench/_proc.ts) ---------------------------------------------------------
const CLK_TCK = 100;
function cpuSeconds(pid) {
  const text = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}
function rss(pid) {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m);
  return m ? Number(m[1]) * 1024 : 0;
}
function sample() {
  return {
    selfCpu: cpuSeconds("self"),
    peerCpu: peerPid ? cpuSeconds(peerPid) : 0,
    selfRss: rss("self"),
    peerRss: peerPid ? rss(peerPid) : 0,
  };
}

// ---- Histogram (bench/_load.ts): 0.1 µs buckets below 100 µs, then 1 % wide ------------------
const LOG_STEP = Math.log(1.01);
class Histogram {
  #counts = new Float64Array(1000 + 1200);
  #n = 0;
  #max = 0;
  record(us) {
    const i = us < 100 ? Math.floor(us * 10) : 1000 + Math.floor(Math.log(us / 100) / LOG_STEP);
    this.#counts[Math.min(i, this.#counts.length - 1)]++;
    this.#n++;
    if (us > this.#max) this.#max = us;
  }
  get count() {
    return this.#n;
  }
  get max() {
    return this.#max;
  }
  quantile(q) {
    if (this.#n === 0) return 0;
    const rank = Math.ceil(q * this.#n);
    let seen = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i];
      if (seen >= rank) {
        const v = i < 1000 ? (i + 0.5) / 10 : 100 * Math.exp((i - 1000 + 0.5) * LOG_STEP);
        return Math.min(v, this.#max);
      }
    }
    return this.#max;
  }
}

// ---- Connections -----------------------------------------------------------------------------
const target = `127.0.0.1:${port}`;
const channels = [];
const clients = [];
const lanes = [];
for (let i = 0; i < conns; i++) {
  const channel = new grpc.Channel(target, grpc.credentials.createInsecure(), {
    "grpc.use_local_subchannel_pool": 1,
    "mprpc.bench.connection": i, // distinct options: a channel of its own
  });
  channels.push(channel);
  const client = new UserServiceRpc(target, grpc.credentials.createInsecure(), {
    channelOverride: channel,
  });
  clients.push(client);
  lanes.push(() =>
    new Promise((resolve, reject) => {
      client.Login(request, (err, res) => (err ? reject(err) : resolve(res)));
    })
  );
}

// ---- Closed loop -----------------------------------------------------------------------------
async function closedLoop() {
  const hist = new Histogram();
  let phase = 0; // 0 warm-up, 1 measuring, 2 stopping
  let errors = 0;
  let firstError;
  const start = sample();
  let begin = start;
  let beginAt = 0;
  const worker = async (call) => {
    while (phase < 2) {
      const t0 = performance.now();
      try {
        await call();
      } catch (e) {
        errors++;
        firstError ??= String(e);
        if (errors > 1000) throw e;
        continue;
      }
      if (phase === 1) hist.record((performance.now() - t0) * 1000);
    }
  };
  let warmTimer;
  let endTimer;
  const ended = new Promise((resolve) => {
    warmTimer = setTimeout(() => {
      begin = sample();
      beginAt = performance.now();
      phase = 1;
      endTimer = setTimeout(() => {
        const s = sample();
        const at = performance.now();
        phase = 2;
        resolve({ at, s });
      }, durationMs);
    }, warmupMs);
  });
  const workers = [];
  for (const lane of lanes) for (let i = 0; i < depth; i++) workers.push(worker(lane));
  let end;
  try {
    end = await Promise.race([
      ended,
      Promise.all(workers).then(() => {
        throw new Error(`workers stopped early: ${firstError}`);
      }),
    ]);
  } finally {
    phase = 2;
    clearTimeout(warmTimer);
    clearTimeout(endTimer);
    await Promise.allSettled(workers);
  }
  const seconds = (end.at - beginAt) / 1000;
  const calls = hist.count;
  const per100k = (cpu) => (calls > 0 ? (cpu / calls) * 100_000 : 0);
  return {
    calls,
    errors,
    seconds,
    callsPerSec: calls / seconds,
    p50Us: hist.quantile(0.5),
    p99Us: hist.quantile(0.99),
    maxUs: hist.max,
    cpuPer100k: {
      caller: per100k(end.s.selfCpu - begin.selfCpu),
      provider: per100k(end.s.peerCpu - begin.peerCpu),
    },
    rss: {
      caller: { start: start.selfRss, end: end.s.selfRss },
      provider: { start: start.peerRss, end: end.s.peerRss },
    },
    ...(firstError ? { firstError } : {}),
  };
}

let code = 0;
try {
  await Promise.all(lanes.map((call) => call())); // connect every channel
  console.log(JSON.stringify({ result: await closedLoop() }));
} catch (e) {
  console.error(`grpc-js client: ${e?.stack ?? e}`);
  code = 1;
} finally {
  for (const c of clients) c.close();
  for (const ch of channels) ch.close();
}
process.exit(code);
