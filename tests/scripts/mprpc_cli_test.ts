/**
 * scripts/mprpc.ts as an operator runs it: `deno run` in a child process against real providers
 * (in this process) and a real ZooKeeper.
 */
import assert from "node:assert/strict";
import { Code, RpcError } from "../../src/errors.ts";
import { RpcProvider, type RpcProviderOptions } from "../../src/server/rpc_provider.ts";
import type { CallContext } from "../../src/server/call_context.ts";
import { ZooKeeperRegistry } from "../../src/registry/zookeeper/zookeeper_registry.ts";
import { startZooKeeper, zkAvailable } from "../../src/testing/mod.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { kitchenService } from "../_helpers/kitchen.ts";
import { TcpProxy } from "../_helpers/tcp_proxy.ts";
import { connectZkClient } from "../../src/testing/_zk_client.ts";

const ROOT = new URL("../../", import.meta.url);
const SCRIPT = "scripts/mprpc.ts";
const PERMS = ["--allow-net", "--allow-read", "--allow-env"];

interface Run {
  code: number;
  stdout: string;
  stderr: string[];
}

async function mprpc(
  args: string[],
  stdin?: string,
  script = SCRIPT,
  extra: string[] = [],
): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMS, ...extra, script, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const r = await child.output();
  const dec = new TextDecoder();
  return {
    code: r.code,
    stdout: dec.decode(r.stdout),
    stderr: dec.decode(r.stderr).split("\n").filter((l) => l !== ""),
  };
}

/** A kitchen provider whose Echo answers metadata `echo-md` as its text, when sent. */
async function startProvider(o: RpcProviderOptions = {}): Promise<RpcProvider & { addr: string }> {
  const provider = new RpcProvider({ logger: new CaptureLogger(), ...o });
  provider.notifyService(await kitchenService(), {
    Echo: (req, ctx: CallContext) => ({ ...req, text: ctx.metadata["echo-md"] ?? req.text }),
    Sleep: async (req, ctx: CallContext) => {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, req.ms);
        ctx.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve();
        });
      });
      return { token: req.token };
    },
    Fail: (req) => {
      throw new RpcError(req.code, req.message);
    },
  });
  await provider.start();
  const { host, port } = provider.address;
  return Object.assign(provider, { addr: `${host}:${port}` });
}

Deno.test("mprpc ls --address lists a provider's services and methods through reflection", async () => {
  await using p = await startProvider();
  const r = await mprpc(["ls", "--address", p.addr]);
  assert.equal(r.code, 0, r.stderr.join("\n"));
  const lines = r.stdout.trimEnd().split("\n");
  assert.deepEqual(lines.slice(0, 5), [
    "kitchen.Kitchen",
    "  Echo(kitchen.Everything) returns (kitchen.Everything)",
    "  Sleep(kitchen.SleepRequest) returns (kitchen.SleepResponse)",
    "  Fail(kitchen.FailRequest) returns (kitchen.Empty)",
    "  Unimplemented(kitchen.Empty) returns (kitchen.Empty)",
  ]);
  assert.ok(lines.includes("mprpc.health.v1.Health"));
  assert.ok(lines.includes("mprpc.reflection.v1.Reflection"));
});

Deno.test("mprpc call prints the response in the protobuf JSON mapping", async () => {
  await using p = await startProvider();
  const request = {
    text: "hi",
    data: "AAH/",
    u64: "18446744073709551615",
    i64: -5,
    color: "GREEN",
    counts: { a: "9007199254740993" },
    inner: { label: "in", values: [1, "2"] },
    ratio: "NaN",
  };
  const r = await mprpc([
    "call",
    "kitchen.Kitchen/Echo",
    JSON.stringify(request),
    "--address",
    p.addr,
  ]);
  assert.equal(r.code, 0, r.stderr.join("\n"));
  const res = JSON.parse(r.stdout);
  assert.equal(res.text, "hi");
  assert.equal(res.data, "AAH/"); // bytes as base64
  assert.equal(res.u64, "18446744073709551615"); // 64-bit as strings
  assert.equal(res.i64, "-5");
  assert.equal(res.color, "GREEN");
  assert.deepEqual(res.counts, { a: "9007199254740993" });
  assert.deepEqual(res.inner, { label: "in", values: [1, 2] });
  assert.equal(res.ratio, "NaN");
  // Field-number order, map included (a type rebuilt from reflection lists map fields last).
  assert.deepEqual(Object.keys(res), [
    "text",
    "data",
    "i32",
    "i64",
    "u64",
    "s64",
    "flag",
    "ratio",
    "small",
    "color",
    "inner",
    "items",
    "tags",
    "counts",
    "f64",
    "u32",
  ]);
});

Deno.test("mprpc call reads the request from stdin with -d @ and sends --metadata", async () => {
  await using p = await startProvider();
  const r = await mprpc(
    ["call", "kitchen.Kitchen.Echo", "-d", "@", "--address", p.addr, "--metadata", "echo-md=a=b"],
    '{"text": "from stdin"}',
  );
  assert.equal(r.code, 0, r.stderr.join("\n"));
  assert.equal(JSON.parse(r.stdout).text, "a=b");
  const plain = await mprpc(
    ["call", "kitchen.Kitchen.Echo", "-d", "@", "--address", p.addr],
    '{"text": "from stdin"}',
  );
  assert.equal(JSON.parse(plain.stdout).text, "from stdin");
});

Deno.test("mprpc call prints CODE: message and exits 1 on an RPC error", async () => {
  await using p = await startProvider();
  const failed = await mprpc([
    "call",
    "kitchen.Kitchen/Fail",
    JSON.stringify({ mode: "rpc", code: Code.NOT_FOUND, message: "no such order" }),
    "--address",
    p.addr,
  ]);
  assert.equal(failed.code, 1);
  assert.equal(failed.stdout, "");
  assert.deepEqual(failed.stderr, ["NOT_FOUND: no such order"]);
  const slow = await mprpc([
    "call",
    "kitchen.Kitchen/Sleep",
    '{"ms": 20000}',
    "--address",
    p.addr,
    "--timeout-ms",
    "300",
  ]);
  assert.equal(slow.code, 1);
  assert.equal(slow.stderr.length, 1);
  assert.match(slow.stderr[0]!, /^DEADLINE_EXCEEDED: /);
  const unimplemented = await mprpc([
    "call",
    "kitchen.Kitchen/Unimplemented",
    "{}",
    "--address",
    p.addr,
  ]);
  assert.equal(unimplemented.code, 1);
  assert.match(unimplemented.stderr[0]!, /^UNIMPLEMENTED: /);
});

Deno.test("mprpc names an unreachable provider or ZooKeeper in one CODE: message line", async () => {
  const port = (() => {
    using l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    return l.addr.port; // closed again: nothing listens there
  })();
  const health = await mprpc(["health", "--address", `127.0.0.1:${port}`]);
  assert.deepEqual([health.code, health.stdout], [1, ""]);
  assert.equal(health.stderr.length, 1);
  assert.match(
    health.stderr[0]!,
    new RegExp(`^UNAVAILABLE: cannot connect to 127\\.0\\.0\\.1:${port}`),
  );
  const call = await mprpc([
    "call",
    "a.B/C",
    "{}",
    "--zk",
    `127.0.0.1:${port}`,
    "--timeout-ms",
    "1000",
  ]);
  assert.deepEqual([call.code, call.stdout], [1, ""]);
  assert.deepEqual(call.stderr, [
    `DEADLINE_EXCEEDED: ZooKeeper 127.0.0.1:${port} did not list the providers of a.B within 1000 ms`,
  ]);
  const ls = await mprpc(["ls", "--zk", `127.0.0.1:${port}`, "--timeout-ms", "1000"]);
  assert.deepEqual(ls.stderr, [
    `UNAVAILABLE: ZooKeeper 127.0.0.1:${port} unreachable within 1000 ms`,
  ]);
  assert.equal(ls.code, 1);
});

Deno.test("mprpc --help prints the usage and exits 0", async () => {
  const r = await mprpc(["--help"]);
  assert.equal(r.code, 0);
  assert.ok(r.stdout.startsWith("usage: mprpc <command> [flags]\n"));
  for (const command of ["ls", "describe", "call", "health"]) {
    assert.ok(r.stdout.includes(`\n  ${command} `), command);
  }
});

Deno.test("mprpc refuses bad usage in one line with exit 2", async () => {
  await using p = await startProvider();
  const cases: Array<[string[], string]> = [
    [["call", "kitchen.Kitchen/Echo", "{", "--address", p.addr], "mprpc: request is not JSON"],
    [
      ["call", "kitchen.Kitchen/Echo", '{"nope": 1}', "--address", p.addr],
      'mprpc: request: nope: kitchen.Everything has no field "nope"',
    ],
    [
      ["call", "kitchen.Kitchen/Echo", '{"data": "not base64!"}', "--address", p.addr],
      "mprpc: request: data: expected base64",
    ],
    [
      ["call", "kitchen.Kitchen/Echo", "{}"],
      "mprpc: give either --zk host:port or --address host:port",
    ],
    [
      ["call", "kitchen.Kitchen/Echo", "{}", "--address", "nowhere"],
      "mprpc: --address: Cannot parse endpoint",
    ],
    [
      ["call", "kitchen.Kitchen/Nope", "{}", "--address", p.addr],
      'mprpc: kitchen.Kitchen has no method "Nope"',
    ],
    [
      ["call", "kitchen.Kitchen/Echo", "--timeout-ms", "soon", "--address", p.addr],
      'mprpc: --timeout-ms: "soon" is not a positive integer',
    ],
    [
      ["call", "kitchen.Kitchen/Echo", "--metadata", "novalue", "--address", p.addr],
      'mprpc: --metadata: "novalue" is not key=value',
    ],
    [["ls", "--adress", p.addr], 'mprpc: unknown flag "--adress"'],
    [
      ["ls", "--zk", "127.0.0.1:1", "--max-nodes", "0"],
      'mprpc: --max-nodes: "0" is not a positive',
    ],
    [["frobnicate"], 'mprpc: unknown command "frobnicate"'],
    [["describe", "kitchen.Kitchen", "--proto", "no/such.proto"], "mprpc: --proto: "],
  ];
  for (const [args, start] of cases) {
    const r = await mprpc(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr.join("\n")}`);
    assert.equal(r.stderr.length, 1, `${args.join(" ")}: ${r.stderr.join("\n")}`);
    assert.ok(r.stderr[0]!.startsWith(start), `${args.join(" ")}: ${r.stderr[0]}`);
    assert.ok(r.stderr[0]!.endsWith("(see --help)"), r.stderr[0] ?? "");
  }
});

Deno.test("mprpc describe prints the .proto of a service and of one method", async () => {
  await using p = await startProvider();
  const svc = await mprpc(["describe", "kitchen.Kitchen", "--address", p.addr]);
  assert.equal(svc.code, 0, svc.stderr.join("\n"));
  assert.ok(svc.stdout.startsWith('// kitchen.proto\nsyntax = "proto3";\n\npackage kitchen;\n'));
  assert.ok(svc.stdout.includes("  map<string, int64> counts = 14;\n"));
  assert.ok(
    svc.stdout.includes(
      "service Kitchen {\n  rpc Echo(Everything) returns (Everything);\n  rpc Sleep(SleepRequest) returns (SleepResponse);\n",
    ),
  );
  // From the local .proto the same printer gives the same text: reflection lost nothing.
  const local = await mprpc([
    "describe",
    "kitchen.Kitchen",
    "--proto",
    "tests/_fixtures/kitchen.proto",
  ]);
  assert.equal(local.code, 0, local.stderr.join("\n"));
  assert.equal(local.stdout, svc.stdout);
  const method = await mprpc(["describe", "kitchen.Kitchen/Sleep", "--address", p.addr]);
  assert.equal(method.code, 0, method.stderr.join("\n"));
  assert.equal(
    method.stdout,
    [
      "// kitchen.Kitchen",
      "rpc Sleep(SleepRequest) returns (SleepResponse);",
      "",
      "// kitchen.SleepRequest",
      "message SleepRequest {",
      "  uint32 ms = 1;",
      "  string token = 2;",
      "}",
      "",
      "// kitchen.SleepResponse",
      "message SleepResponse {",
      "  string token = 1;",
      "  bool aborted = 2;",
      "  string reason = 3;",
      "}",
      "",
    ].join("\n"),
  );
  const missing = await mprpc(["describe", "kitchen.Kitchen/Nope", "--address", p.addr]);
  assert.equal(missing.code, 1);
  assert.deepEqual(missing.stderr, ['NOT_FOUND: Service kitchen.Kitchen has no method "Nope"']);
});

Deno.test("mprpc call --proto with -I calls a provider that has no reflection", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mprpc_cli_" });
  try {
    await Deno.mkdir(`${dir}/include`);
    await Deno.writeTextFile(
      `${dir}/include/money.proto`,
      `syntax = "proto3"; package shop; message Money { int64 cents = 1; bytes note = 2; }`,
    );
    await Deno.writeTextFile(
      `${dir}/pay.proto`,
      `syntax = "proto3"; package shop; import "money.proto";
       service Pay { rpc Double(Money) returns (Money); }`,
    );
    const provider = new RpcProvider({ reflection: false, logger: new CaptureLogger() });
    const { loadProto } = await import("../../src/schema/load_proto.ts");
    const root = await loadProto(`${dir}/pay.proto`, { includePaths: [`${dir}/include`] });
    provider.notifyService(root.lookupService("shop.Pay"), {
      Double: (m) => ({ cents: String(BigInt(m.cents) * 2n), note: m.note }),
    });
    await provider.start();
    try {
      const addr = `${provider.address.host}:${provider.address.port}`;
      const args = [
        "call",
        "shop.Pay/Double",
        '{"cents": "1234567890123", "note": "aGk="}',
        "--address",
        addr,
      ];
      const noReflection = await mprpc(args);
      assert.equal(noReflection.code, 1);
      assert.match(noReflection.stderr[0]!, /^UNIMPLEMENTED: /);
      const r = await mprpc([...args, "--proto", `${dir}/pay.proto`, "-I", `${dir}/include`]);
      assert.equal(r.code, 0, r.stderr.join("\n"));
      assert.deepEqual(JSON.parse(r.stdout), { cents: "2469135780246", note: "aGk=" });
    } finally {
      await provider.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mprpc health --address exits 0 when SERVING and 1 otherwise", async () => {
  await using p = await startProvider();
  const ok = await mprpc(["health", "--address", p.addr]);
  assert.deepEqual([ok.code, ok.stdout], [0, "SERVING\n"]);
  const unknown = await mprpc(["health", "--address", p.addr, "no.Such"]);
  assert.deepEqual([unknown.code, unknown.stdout], [1, "SERVICE_UNKNOWN\n"]);
  p.setServing(false);
  const down = await mprpc(["health", "--address", p.addr, "kitchen.Kitchen"]);
  assert.deepEqual([down.code, down.stdout], [1, "NOT_SERVING\n"]);
});

/** Reads lines of a child's stdout as they come. */
class LineReader {
  #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";
  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  }
  /** The next line, or undefined at the end of the output. */
  async line(): Promise<string | undefined> {
    for (;;) {
      const i = this.#buffer.indexOf("\n");
      if (i >= 0) {
        const line = this.#buffer.slice(0, i);
        this.#buffer = this.#buffer.slice(i + 1);
        return line;
      }
      const r = await this.#reader.read();
      if (r.done) return this.#buffer === "" ? undefined : this.#buffer;
      this.#buffer += r.value;
    }
  }
}

Deno.test("mprpc health --watch prints each status change until the provider closes", async () => {
  const p = await startProvider();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMS, SCRIPT, "health", "--watch", "--address", p.addr, "kitchen.Kitchen"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const out = new LineReader(child.stdout);
  try {
    assert.equal(await out.line(), "SERVING");
    p.setServing(false);
    assert.equal(await out.line(), "NOT_SERVING");
    p.setServing(true);
    assert.equal(await out.line(), "SERVING");
  } finally {
    await p.close();
  }
  // Closing says NOT_SERVING, then ends the watch: the last status was not SERVING.
  assert.equal(await out.line(), "NOT_SERVING");
  assert.equal(await out.line(), undefined);
  assert.equal((await child.status).code, 1);
});

Deno.test("mprpc health --watch --timeout-ms watches that long and exits by the last status", async () => {
  await using p = await startProvider();
  const r = await mprpc(["health", "--watch", "--address", p.addr, "--timeout-ms", "1500"]);
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, "SERVING\n", []]);
  const bad = await mprpc(["ls", "--watch", "--address", p.addr]);
  assert.equal(bad.code, 2);
});

Deno.test({
  name: "mprpc ls, health and call --zk read providers from ZooKeeper, native and C++ layouts",
  ignore: !(await zkAvailable()),
  async fn() {
    await using zk = await startZooKeeper();
    const registries = [0, 1].map(() =>
      new ZooKeeperRegistry({ connect: zk.connect, logger: new CaptureLogger() })
    );
    const a = await startProvider({ registry: registries[0] });
    const b = await startProvider({ registry: registries[1], legacy: true, weight: 3 });
    try {
      const r = await mprpc(["ls", "--zk", zk.connect]);
      assert.equal(r.code, 0, r.stderr.join("\n"));
      const lines = r.stdout.trimEnd().split("\n");
      const [first, second] = [a.addr, b.addr].sort();
      const row = (addr: string, weight: number) =>
        new RegExp(
          `^  ${
            addr.replace(/\./g, "\\.")
          }  native  weight ${weight}  up \\d+s  session 0x[0-9a-f]{16}  methods Echo,Sleep,Fail$`,
        );
      assert.equal(lines[0], "Kitchen (C++ layout)");
      assert.match(
        lines[1]!,
        new RegExp(
          `^  ${b.addr}  C\\+\\+  up \\d+s  session 0x[0-9a-f]{16}  methods Echo,Fail,Sleep$`,
        ),
      );
      assert.equal(lines[2], "kitchen.Kitchen");
      assert.match(lines[3]!, row(first!, first === a.addr ? 1 : 3));
      assert.match(lines[4]!, row(second!, second === a.addr ? 1 : 3));
      assert.equal(lines.length, 5);

      const json = await mprpc(["ls", "--zk", zk.connect, "--json"]);
      const listed = JSON.parse(json.stdout) as Array<
        { address: string; layout: string; registeredAt: number }
      >;
      assert.deepEqual(listed.map((p) => p.layout).sort(), ["cpp", "native", "native"]);
      for (const p of listed) assert.ok(Date.now() - p.registeredAt < 120_000);

      const health = await mprpc(["health", "--zk", zk.connect, "kitchen.Kitchen"]);
      assert.equal(health.code, 0, health.stderr.join("\n"));
      assert.deepEqual(health.stdout.trimEnd().split("\n").sort(), [
        `${first}  SERVING`,
        `${second}  SERVING`,
      ]);
      b.setServing(false);
      const one = await mprpc(["health", "--zk", zk.connect]);
      assert.equal(one.code, 1);
      assert.ok(one.stdout.includes(`${b.addr}  NOT_SERVING`), one.stdout);
      // --watch follows every provider, each line named by its address, until --timeout-ms.
      const watched = await mprpc([
        "health",
        "--watch",
        "--zk",
        zk.connect,
        "kitchen.Kitchen",
        "--timeout-ms",
        "3000",
      ]);
      assert.equal(watched.code, 1, watched.stderr.join("\n")); // b is not serving
      assert.deepEqual(
        watched.stdout.trimEnd().split("\n").sort(),
        [
          `${a.addr}  SERVING`,
          `${b.addr}  NOT_SERVING`,
        ].sort(),
      );

      const call = await mprpc([
        "call",
        "kitchen.Kitchen/Echo",
        '{"text": "via zk"}',
        "--zk",
        zk.connect,
      ]);
      assert.equal(call.code, 0, call.stderr.join("\n"));
      assert.equal(JSON.parse(call.stdout).text, "via zk");
      const ghost = await mprpc([
        "call",
        "ghost.Ghost/Boo",
        "{}",
        "--zk",
        zk.connect,
        "--timeout-ms",
        "3000",
      ]);
      assert.equal(ghost.code, 1);
      assert.deepEqual(ghost.stderr, [
        "UNAVAILABLE: no provider of ghost.Ghost is registered in ZooKeeper",
      ]);
    } finally {
      await Promise.all([a.close({ graceMs: 0 }), b.close({ graceMs: 0 })]);
      await Promise.all(registries.map((r) => r.close()));
    }
  },
});

Deno.test({
  name: "mprpc ls --zk ends within --timeout-ms in one CODE: message line when ZooKeeper stops " +
    "answering after the handshake, and at --max-nodes",
  ignore: !(await zkAvailable()),
  async fn() {
    await using zk = await startZooKeeper();
    {
      await using raw = await connectZkClient(zk.connect);
      await raw.mkdirp("/mprpc/shop.Orders/providers");
    }
    // Nodes listed: shop.Orders under /mprpc, no providers, then "mprpc" and "zookeeper" at /.
    const many = await mprpc(["ls", "--zk", zk.connect, "--max-nodes", "1"]);
    assert.deepEqual([many.code, many.stdout], [1, ""]);
    assert.deepEqual(many.stderr, [
      `RESOURCE_EXHAUSTED: ZooKeeper ${zk.connect} holds more nodes than a listing reads at ` +
      "most (maxNodes 1): 3 listed, the last 2 under /",
    ]);
    // Silent after the handshake's answer: the proxy drops the rest, the server is frozen.
    let paused: Promise<void> | undefined;
    await using proxy: TcpProxy = new TcpProxy({ hostname: "127.0.0.1", port: zk.port }, {
      onTargetData: () => {
        if (paused) return;
        proxy.cut();
        paused = zk.pause();
      },
    });
    const r = await mprpc(["ls", "--zk", `127.0.0.1:${proxy.port}`, "--timeout-ms", "1500"]);
    await paused;
    await zk.resume();
    assert.deepEqual([r.code, r.stdout], [1, ""]);
    assert.deepEqual(r.stderr, [
      `UNAVAILABLE: ZooKeeper 127.0.0.1:${proxy.port} did not answer within 1500 ms ` +
      "(reading /mprpc)",
    ]);
  },
});

Deno.test("mprpc runs by URL", async () => {
  await using p = await startProvider();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (path.split("/").includes("..")) return new Response("bad path", { status: 400 });
    try {
      const body = await Deno.readFile(new URL(`.${path}`, ROOT));
      return new Response(body, { headers: { "content-type": "application/typescript" } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const r = await mprpc(
      ["health", "--address", p.addr],
      undefined,
      `${base}/scripts/mprpc.ts`,
      [
        "--no-config",
        "--no-lock",
        `--reload=${base}`,
        `--allow-import=127.0.0.1:${server.addr.port}`,
      ],
    );
    const problems = r.stderr.filter((l) => !l.startsWith("Download "));
    assert.deepEqual([r.code, r.stdout, problems], [0, "SERVING\n", []]);
  } finally {
    await server.shutdown();
  }
});
