import assert from "node:assert/strict";
import { Code, RpcError } from "../../src/errors.ts";
import { RpcController } from "../../src/client/rpc_controller.ts";
import type { CallContext } from "../../src/server/call_context.ts";
import { type Message } from "../../src/schema/method_descriptor.ts";
import { startKitchen } from "../_helpers/kitchen.ts";
import { isCode } from "../_helpers/is_code.ts";

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

function assertBytes(actual: unknown, expected: Uint8Array, what: string): void {
  assert.ok(actual instanceof Uint8Array, `${what}: not a Uint8Array`);
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) {
      assert.fail(`${what}: byte ${i} is ${actual[i]}, expected ${expected[i]}`);
    }
  }
}

const DEFAULTS = {
  text: "",
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

Deno.test("every field type of kitchen.Everything round-trips through provider and caller", async () => {
  await using k = await startKitchen();
  const data = pattern(256, 1);
  const sent = {
    text: "héllo, 世界 🌍",
    i32: -2147483648,
    i64: "-9223372036854775808",
    u64: "18446744073709551615",
    s64: "-9007199254740993",
    flag: true,
    ratio: 3.141592653589793,
    small: 1.5,
    color: "BLUE",
    inner: { label: "inner ✓", values: [1, -2, 2147483647] },
    items: [{ label: "a", values: [] }, { label: "b", values: [7] }],
    tags: ["x", "", "ü"],
    counts: { a: "1", "ключ": "-9223372036854775807", big: "9223372036854775807" },
    f64: "18446744073709551615",
    u32: 4294967295,
  };
  const { data: got, ...rest } = await k.stub.Echo({ ...sent, data });
  assertBytes(got, data, "data");
  assert.deepEqual(rest, sent);
});

Deno.test("64-bit integers given as number, string or bigint keep every digit beyond 2^53", async () => {
  await using k = await startKitchen();
  const asNumbers = await k.stub.Echo({
    i64: 2 ** 60,
    u64: Number.MAX_SAFE_INTEGER,
    s64: -(2 ** 55),
    f64: 2 ** 62,
    counts: { n: 42, m: -(2 ** 60) },
  });
  assert.equal(asNumbers.i64, "1152921504606846976");
  assert.equal(asNumbers.u64, "9007199254740991");
  assert.equal(asNumbers.s64, "-36028797018963968");
  assert.equal(asNumbers.f64, "4611686018427387904");
  assert.deepEqual(asNumbers.counts, { n: "42", m: "-1152921504606846976" });

  const asStrings = await k.stub.Echo({
    i64: "9007199254740993",
    u64: "9007199254740993",
    s64: "-9007199254740993",
    f64: "9007199254740993",
  });
  for (const f of ["i64", "u64", "f64"]) assert.equal(asStrings[f], "9007199254740993", f);
  assert.equal(asStrings.s64, "-9007199254740993");

  const asBigints = await k.stub.Echo({
    i64: 2n ** 63n - 1n,
    u64: 2n ** 64n - 1n,
    s64: -(2n ** 63n),
    f64: 2n ** 53n + 1n,
    counts: { b: 2n ** 62n + 1n },
    items: [{ label: "nested bigint holder" }],
  });
  assert.equal(asBigints.i64, "9223372036854775807");
  assert.equal(asBigints.u64, "18446744073709551615");
  assert.equal(asBigints.s64, "-9223372036854775808");
  assert.equal(asBigints.f64, "9007199254740993");
  assert.deepEqual(asBigints.counts, { b: "4611686018427387905" });
  BigInt(asBigints.i64); // parses back exactly
  assert.equal(BigInt(asBigints.u64), 2n ** 64n - 1n);
});

Deno.test("enums go by name out, by name or number in; absent fields come back as defaults", async () => {
  await using k = await startKitchen();
  assert.equal((await k.stub.Echo({ color: 2 })).color, "BLUE");
  assert.equal((await k.stub.Echo({ color: "GREEN" })).color, "GREEN");

  for (const req of [{}, undefined]) {
    const { data, ...rest } = await k.stub.Echo(req);
    assertBytes(data, new Uint8Array(0), "default data");
    assert.deepEqual(rest, DEFAULTS);
  }
  const partial = await k.stub.Echo({ text: "only text", inner: {} });
  assert.equal(partial.text, "only text");
  assert.deepEqual(partial.inner, { label: "", values: [] });
  assert.equal(partial.i64, "0");
});

Deno.test("bytes fields of 64 KiB and more arrive intact both ways", async () => {
  await using k = await startKitchen();
  for (const size of [64 * 1024, 64 * 1024 + 1, 300 * 1024, 1024 * 1024]) {
    const data = pattern(size, size);
    const res = await k.stub.Echo({ text: `size ${size}`, data });
    assert.equal(res.text, `size ${size}`);
    assertBytes(res.data, data, `data of ${size} bytes`);
  }
});

Deno.test("many concurrent responses with distinct bytes each keep their own content", async () => {
  // Handlers answer after a varying delay so requests and responses interleave on the wire,
  // and decoded `bytes` views must not alias a read buffer that is later reused.
  await using k = await startKitchen({
    impl: {
      async Echo(req: Message) {
        await new Promise((r) => setTimeout(r, req.i32 % 7));
        return req;
      },
    },
  });
  const n = 300;
  const sent = Array.from({ length: n }, (_, i) => pattern(1000 + (i % 13) * 500, i + 1));
  const results = await Promise.all(
    sent.map((data, i) => k.stub.Echo({ text: `#${i}`, i32: i, data })),
  );
  // Check after every call finished, so a later read could have overwritten an aliased buffer.
  results.forEach((res, i) => {
    assert.equal(res.text, `#${i}`);
    assertBytes(res.data, sent[i]!, `response ${i}`);
  });
  const big = await Promise.all(
    [0, 1, 2, 3].map((i) => k.stub.Echo({ i32: i, data: pattern(200 * 1024, 100 + i) })),
  );
  big.forEach((res, i) => assertBytes(res.data, pattern(200 * 1024, 100 + i), `big ${i}`));
});

Deno.test("1,000 concurrent calls share one connection and each gets its own response", async () => {
  await using k = await startKitchen();
  const n = 1000;
  const calls = Array.from(
    { length: n },
    (_, i) => k.stub.Sleep({ ms: i % 10, token: `tok-${i}` }),
  );
  const responses = await Promise.all(calls);
  assert.equal(k.provider.connectionCount, 1);
  responses.forEach((res, i) => {
    assert.deepEqual(res, { token: `tok-${i}`, aborted: false, reason: "" });
  });
  assert.equal(new Set(k.tokens).size, n, "the provider served every call once");
});

Deno.test("responses come back out of order when handlers finish out of order", async () => {
  await using k = await startKitchen({
    impl: {
      async Sleep(req: Message, ctx: CallContext) {
        k.events.fire(`started:${req.token}`, ctx);
        await k.events.wait(`release:${req.token}`);
        return { token: req.token };
      },
    },
  });
  const settled: string[] = [];
  const call = (token: string) =>
    k.stub.Sleep({ token }).then((r) => {
      settled.push(r.token);
      return r;
    });
  const a = call("a");
  const b = call("b");
  const c = call("c");
  await Promise.all(["a", "b", "c"].map((t) => k.events.wait(`started:${t}`)));
  k.events.fire("release:c");
  assert.equal((await c).token, "c");
  assert.deepEqual(settled, ["c"], "a and b still pending while c is answered");
  k.events.fire("release:b");
  assert.equal((await b).token, "b");
  k.events.fire("release:a");
  assert.equal((await a).token, "a");
  assert.deepEqual(settled, ["c", "b", "a"]);
});

Deno.test("a handler slower than the deadline fails with DEADLINE_EXCEEDED on time and the provider is told", async () => {
  // The handler never looks at ctx.signal, so only the caller's clock is at work here; the
  // provider's own deadline is covered in tests/server/server_connection_test.ts.
  await using k = await startKitchen({
    impl: {
      async Sleep(req: Message, ctx: CallContext) {
        k.events.fire(`started:${req.token}`, ctx);
        await k.events.wait("release");
        return { token: req.token };
      },
    },
  });
  try {
    const timeoutMs = 150;
    const started = Date.now();
    await assert.rejects(
      k.stub.Sleep({ token: "slow" }, { timeoutMs }),
      isCode(Code.DEADLINE_EXCEEDED, /deadline exceeded/),
    );
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= timeoutMs - 1, `rejected early, after ${elapsed} ms`);
    assert.ok(elapsed <= timeoutMs + 100, `rejected ${elapsed - timeoutMs} ms after the deadline`);
    const ctx = await k.events.wait<CallContext>("started:slow");
    assert.ok(ctx.deadline !== undefined, "ctx.deadline is set");
    assert.ok(
      ctx.deadline >= started + timeoutMs - 5 && ctx.deadline <= Date.now(),
      "ctx.deadline",
    );
    // The caller's CANCEL reaches the provider and aborts the call there.
    for (let i = 0; i < 100 && !ctx.aborted; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(ctx.aborted, true);
  } finally {
    k.events.fire("release");
  }
});

Deno.test("the channel's default timeoutMs applies when a call gives none", async () => {
  await using k = await startKitchen({ channel: { timeoutMs: 80 } });
  await assert.rejects(k.stub.Sleep({ ms: 5000, token: "t" }), isCode(Code.DEADLINE_EXCEEDED));
  // timeoutMs 0 on the call: no deadline at all.
  const ctxPromise = k.events.wait<CallContext>("started:none");
  const call = k.stub.Sleep({ ms: 120, token: "none" }, { timeoutMs: 0 });
  assert.equal((await ctxPromise).deadline, undefined);
  assert.equal((await call).aborted, false);
});

Deno.test("aborting the caller's signal rejects with CANCELLED at once and aborts the handler", async () => {
  await using k = await startKitchen();
  const ac = new AbortController();
  const call = k.stub.Sleep({ ms: 5000, token: "c1" }, { signal: ac.signal });
  await k.events.wait("started:c1");
  const t0 = Date.now();
  ac.abort();
  await assert.rejects(call, isCode(Code.CANCELLED, /cancelled/));
  assert.ok(Date.now() - t0 < 100, "rejected at once");
  const reason = await k.events.wait<RpcError>("aborted:c1");
  assert.equal(reason.code, Code.CANCELLED);
  // The connection is still good.
  assert.equal((await k.stub.Echo({ text: "after cancel" })).text, "after cancel");
  // An already aborted signal fails the call before anything is sent.
  await assert.rejects(
    k.stub.Sleep({ ms: 1, token: "never" }, { signal: AbortSignal.abort() }),
    isCode(Code.CANCELLED),
  );
  assert.ok(!k.tokens.includes("never"));
});

Deno.test("request metadata reaches the handler's ctx.metadata", async () => {
  await using k = await startKitchen();
  const call = k.stub.Sleep({ ms: 0, token: "md" }, {
    metadata: { authorization: "Bearer abc", "x-ünï": "çödé" },
  });
  const ctx = await k.events.wait<CallContext>("started:md");
  assert.deepEqual(ctx.metadata, { authorization: "Bearer abc", "x-ünï": "çödé" });
  assert.equal(ctx.service, "kitchen.Kitchen");
  assert.equal(ctx.method, "Sleep");
  assert.equal(ctx.peer.host, "127.0.0.1");
  await call;
});

Deno.test("callMethod returns the response, or marks the controller failed with code and text", async () => {
  await using k = await startKitchen();
  const controller = new RpcController();
  const res = await k.channel.callMethod(k.service.methods["Echo"]!, controller, { text: "hi" });
  assert.equal(res?.text, "hi");
  assert.equal(controller.failed(), false);
  assert.equal(controller.code, Code.OK);

  const failed = await k.channel.callMethod(k.service.methods["Fail"]!, controller, {
    mode: "rpc",
    code: Code.NOT_FOUND,
    message: "no such user: 42",
  });
  assert.equal(failed, undefined);
  assert.equal(controller.failed(), true);
  assert.equal(controller.errorText(), "no such user: 42");
  assert.equal(controller.code, Code.NOT_FOUND);
  assert.deepEqual(controller.error?.metadata, { where: "kitchen" });

  // The controller is reset by the next call.
  await k.channel.callMethod(k.service.methods["Echo"]!, controller, {});
  assert.equal(controller.failed(), false);
  assert.equal(controller.errorText(), "");

  // Without a controller the failure rejects.
  await assert.rejects(
    k.channel.callMethod(k.service.methods["Fail"]!, undefined, { mode: "throw", message: "boom" }),
    isCode(Code.INTERNAL, /boom/),
  );
});

Deno.test("channel.rpcImpl drives protobufjs Service.create", async () => {
  await using k = await startKitchen();
  // deno-lint-ignore no-explicit-any
  const svc = k.service.create(k.channel.rpcImpl) as any;
  const res = await svc.echo({ text: "via rpcImpl", i64: 5 });
  assert.equal(res.text, "via rpcImpl");
  assert.equal(String(res.i64), "5");
  await assert.rejects(
    svc.fail({ mode: "rpc", code: Code.PERMISSION_DENIED, message: "nope" }),
    isCode(Code.PERMISSION_DENIED, /^nope$/),
  );
  // The callback style works too.
  const viaCallback = await new Promise<Message>((resolve, reject) =>
    svc.echo({ text: "cb" }, (err: Error | null, r: Message) => err ? reject(err) : resolve(r))
  );
  assert.equal(viaCallback.text, "cb");
});

Deno.test("stubs answer to the .proto name and its lowerCamelCase alias", async () => {
  await using k = await startKitchen();
  assert.equal(k.stub.echo, k.stub.Echo);
  assert.equal(k.stub.sleep, k.stub.Sleep);
  assert.equal((await k.stub.echo({ text: "camel" })).text, "camel");
  assert.equal(k.channel.stub(k.service), k.stub, "one stub per service");
  assert.ok(Object.isFrozen(k.stub));
});

Deno.test("channel.close() fails pending calls with CANCELLED, is idempotent, and refuses new calls", async () => {
  await using k = await startKitchen();
  const pending = [1, 2, 3].map((i) => k.stub.Sleep({ ms: 5000, token: `p${i}` }));
  await Promise.all([1, 2, 3].map((i) => k.events.wait(`started:p${i}`)));
  const first = k.channel.close();
  const second = k.channel.close();
  assert.equal(first, second);
  for (const p of pending) await assert.rejects(p, isCode(Code.CANCELLED, /channel closed/));
  await first;
  await k.channel.close();
  await assert.rejects(k.stub.Echo({}), isCode(Code.CANCELLED, /channel closed/));
  // The provider noticed: the handlers' signals abort as the connection drops.
  for (const i of [1, 2, 3]) {
    const reason = await k.events.wait<RpcError>(`aborted:p${i}`);
    assert.equal(reason.code, Code.CANCELLED);
  }
});

Deno.test("a request that cannot be encoded fails with INVALID_ARGUMENT before it is sent", async () => {
  await using k = await startKitchen();
  await assert.rejects(
    k.stub.Echo({ inner: "not an object" }),
    isCode(Code.INVALID_ARGUMENT, /cannot encode kitchen\.Everything for kitchen\.Kitchen\.Echo/),
  );
  assert.equal(k.provider.connectionCount, 0, "nothing was sent");
});

// --- Regression guards for bugs this suite found (fixed in c994d2b).

Deno.test("past its deadline a call always fails DEADLINE_EXCEEDED, and the handler's signal aborts with DEADLINE_EXCEEDED", async () => {
  // Caller and provider both time the deadline. Today the outcome depends on which 10 ms wheel
  // ticks first: the provider's abort can let the handler answer in time for the caller to get
  // a *success* after its deadline, or the caller's CANCEL reaches the provider first and the
  // handler sees CANCELLED. Several staggered deadlines make the race show up every run.
  await using k = await startKitchen();
  const timeouts = [100, 113, 127, 141, 155, 169];
  await Promise.all(timeouts.map(async (timeoutMs, i) => {
    const started = Date.now();
    await assert.rejects(
      k.stub.Sleep({ ms: 5000, token: `slow${i}` }, { timeoutMs }),
      isCode(Code.DEADLINE_EXCEEDED),
      `call with timeoutMs ${timeoutMs}`,
    );
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= timeoutMs - 1, `rejected early, after ${elapsed} ms`);
    assert.ok(elapsed <= timeoutMs + 100, `rejected ${elapsed - timeoutMs} ms after the deadline`);
    const reason = await k.events.wait<RpcError>(`aborted:slow${i}`);
    assert.equal(
      reason.codeName,
      "DEADLINE_EXCEEDED",
      `handler of call with timeoutMs ${timeoutMs}`,
    );
  }));
});

Deno.test("an unsigned 64-bit field given a number of 2^63 or more keeps its value", async () => {
  // protobufjs's fromObject turns a number into a *signed* Long, saturating at 2^63-1, before
  // marking it unsigned: 2^63 given as a number arrives as 9223372036854775807.
  await using k = await startKitchen();
  const res = await k.stub.Echo({ u64: 2 ** 63, f64: 2 ** 63 + 2 ** 11, counts: { a: 2 ** 62 } });
  assert.equal(res.u64, "9223372036854775808");
  assert.equal(res.f64, "9223372036854777856");
  assert.deepEqual(res.counts, { a: "4611686018427387904" });
});

Deno.test("an abort whose reason is an RpcError fails the call with that error, before or after the request is sent", async () => {
  await using k = await startKitchen();
  const reason = new RpcError(Code.DEADLINE_EXCEEDED, "the request's budget ran out");
  // Before anything is sent.
  const early = new AbortController();
  early.abort(reason);
  await assert.rejects(k.stub.Echo({ text: "x" }, { signal: early.signal }), (e) => e === reason);
  // After the request reached the handler.
  const late = new AbortController();
  const call = k.stub.Sleep({ ms: 10_000, token: "aborted-late" }, { signal: late.signal });
  await k.events.wait("started:aborted-late");
  late.abort(reason);
  await assert.rejects(call, (e) => e === reason);
  // A plain abort is CANCELLED, as before.
  const plain = new AbortController();
  const other = k.stub.Sleep({ ms: 10_000, token: "aborted-plain" }, { signal: plain.signal });
  await k.events.wait("started:aborted-plain");
  plain.abort();
  await assert.rejects(other, (e) => e instanceof RpcError && e.code === Code.CANCELLED);
});
