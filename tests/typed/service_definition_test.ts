/**
 * Typed service definitions at run time: the generated `kitchen.Kitchen` served and called
 * through `notifyService(S, impl)` and `channel.stub(S)`, over the native protocol, the C++
 * protocol and Workers, with lent receive buffers too. The received values are compared with literals of the generated receiver
 * types, so a generated type that stops matching what the runtime produces fails here.
 */
import assert from "node:assert/strict";
import {
  BufferLoan,
  ConsoleLogger,
  defineService,
  protoFile,
  RpcChannel,
  RpcProvider,
  type ServiceImpl,
} from "../../mod.ts";
import { type Everything, type EverythingInit, Kitchen } from "./_gen/kitchen_pb.ts";

const quiet = new ConsoleLogger("CRITICAL");

const impl: ServiceImpl<typeof Kitchen> = {
  Echo: (req) => req,
  Sleep: (req) => ({ token: req.token }),
  Fail: () => ({}),
  Unimplemented: () => ({}),
};

const FULL: EverythingInit = {
  text: "héllo",
  data: new Uint8Array([1, 2, 3]),
  i32: -5,
  i64: 9007199254740993n,
  u64: "18446744073709551615",
  s64: -42,
  flag: true,
  ratio: 0.5,
  small: 1.5,
  color: 2,
  inner: { label: "in", values: [1, 2] },
  items: [{ label: "a" }, { values: [3] }],
  tags: ["x", "y"],
  counts: { a: 1n, b: "2" },
  f64: 7,
  u32: 4294967295,
};

/** What a receiver gets for {@linkcode FULL}: a literal of the generated receiver type. */
const FULL_RECEIVED: Everything = {
  text: "héllo",
  data: new Uint8Array([1, 2, 3]),
  i32: -5,
  i64: "9007199254740993",
  u64: "18446744073709551615",
  s64: "-42",
  flag: true,
  ratio: 0.5,
  small: 1.5,
  color: "BLUE",
  inner: { label: "in", values: [1, 2] },
  items: [{ label: "a", values: [] }, { label: "", values: [3] }],
  tags: ["x", "y"],
  counts: { a: "1", b: "2" },
  f64: "7",
  u32: 4294967295,
};

/** What a receiver gets for `{}`: every field present, with its default. */
const EMPTY_RECEIVED: Everything = {
  text: "",
  data: new Uint8Array(),
  i32: 0,
  i64: "0",
  u64: "0",
  s64: "0",
  flag: false,
  ratio: 0,
  small: 0,
  color: "RED",
  inner: null,
  items: [],
  tags: [],
  counts: {},
  f64: "0",
  u32: 0,
};

/** `value` with its typed arrays as plain arrays, for deepEqual across Uint8Array subclasses. */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return [...value];
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

Deno.test("a typed stub call returns exactly the generated receiver type's shape, defaults filled", async () => {
  await using provider = new RpcProvider({ host: "127.0.0.1", port: 0, logger: quiet });
  provider.notifyService(Kitchen, impl);
  await provider.start();
  await using channel = new RpcChannel({ address: provider.address, logger: quiet });
  const kitchen = channel.stub(Kitchen);
  assert.deepEqual(plain(await kitchen.Echo(FULL)), plain(FULL_RECEIVED));
  assert.deepEqual(plain(await kitchen.echo({})), plain(EMPTY_RECEIVED));
  // Keys too: no field missing, none extra.
  assert.deepEqual(Object.keys(await kitchen.Echo({})).sort(), Object.keys(EMPTY_RECEIVED).sort());
});

Deno.test("a typed definition takes notifyService's { lendRequestBytes } and a typed stub call's { loan }", async () => {
  await using provider = new RpcProvider({ host: "127.0.0.1", port: 0, logger: quiet });
  provider.notifyService(Kitchen, impl, { lendRequestBytes: true });
  await provider.start();
  await using channel = new RpcChannel({ address: provider.address, logger: quiet });
  const kitchen = channel.stub(Kitchen);
  const loan = new BufferLoan();
  try {
    for (let i = 0; i < 3; i++) {
      const got: Everything = await kitchen.Echo(FULL, { loan });
      assert.deepEqual(plain(got), plain(FULL_RECEIVED));
    }
    assert.equal(loan.size, 3, "each response's buffer is lent to the loan");
  } finally {
    loan.release();
  }
  assert.equal(loan.size, 0);
});

Deno.test("a typed stub is the untyped stub of the definition's service: one object, same functions", async () => {
  await using channel = new RpcChannel({ address: "127.0.0.1:1", logger: quiet });
  const typed = channel.stub(Kitchen);
  assert.equal(typed as unknown, channel.stub(Kitchen.service));
  assert.equal(typed.echo, typed.Echo);
  assert.equal(Kitchen.service, Kitchen.service, "parsed once");
  assert.equal(Kitchen.typeName, "kitchen.Kitchen");
});

Deno.test("a typed definition naming a service its file lacks throws a TypeError naming both", () => {
  const file = protoFile("x.proto", `syntax = "proto3"; package x; message M {}`);
  const ghost = defineService<Record<never, never>>(file, "x.Ghost");
  assert.throws(() => ghost.service, {
    name: "TypeError",
    message: "x.proto has no service x.Ghost",
  });
});

Deno.test("typed definitions run over the C++ protocol (mprpc-legacy)", async () => {
  await using provider = new RpcProvider({
    host: "127.0.0.1",
    port: 0,
    legacy: true,
    logger: quiet,
  });
  provider.notifyService(Kitchen, impl);
  await provider.start();
  await using channel = new RpcChannel({
    address: provider.address,
    protocol: "mprpc-legacy",
    logger: quiet,
  });
  const kitchen = channel.stub(Kitchen);
  assert.deepEqual(plain(await kitchen.Echo(FULL)), plain(FULL_RECEIVED));
  const slept = await kitchen.sleep({ token: "t" });
  assert.deepEqual(slept, { token: "t", aborted: false, reason: "" });
});

Deno.test("typed definitions run over Workers: a worker module's setup(provider) calls notifyService(S, impl)", async () => {
  await using provider = new RpcProvider({
    host: "127.0.0.1",
    port: 0,
    workers: 2,
    workerModule: new URL("../_fixtures/typed_worker_module.ts", import.meta.url),
    logger: quiet,
  });
  await provider.start();
  const loops = new Set<string>();
  // Connections spread over the event loops by the kernel (reusePort): call through new
  // channels until both loops answered (bounded).
  for (let i = 0; i < 64 && loops.size < 2; i++) {
    await using channel = new RpcChannel({ address: provider.address, logger: quiet });
    const reply = await channel.stub(Kitchen).Echo({ ...FULL, text: "who" });
    assert.deepEqual(plain({ ...reply, text: "" }), plain({ ...FULL_RECEIVED, text: "" }));
    loops.add(reply.text);
  }
  assert.equal(loops.size, 2, `answered by ${[...loops].join(", ")}`);
});
