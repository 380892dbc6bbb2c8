/**
 * Whatever a handler throws or rejects with, the caller gets a status without a stack trace and
 * the provider logs one line saying what was thrown.
 */
import assert from "node:assert/strict";
import { Code, RpcError } from "../../src/errors.ts";
import { formatFields } from "../../src/log/logger.ts";
import { startKitchen } from "../_helpers/kitchen.ts";
import { parseProto, RpcChannel, RpcProvider } from "../../mod.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";

class QuotaError extends Error {
  override name = "QuotaError";
}
class NotFound extends RpcError {
  constructor() {
    super(Code.NOT_FOUND, "no such user");
  }
}

const cyclic: Record<string, unknown> = { name: "cycle" };
cyclic.self = cyclic;
const hostile = new Proxy({}, {
  get() {
    throw new Error("trap");
  },
  getPrototypeOf() {
    throw new Error("trap");
  },
  ownKeys() {
    throw new Error("trap");
  },
});
const badMessage = new Error("x");
Object.defineProperty(badMessage, "message", {
  get() {
    throw new Error("getter");
  },
});

/** name, value thrown, code expected, message expected (undefined: any without a stack). */
const CASES: Array<[string, () => unknown, number, string | RegExp, RegExp]> = [
  ["undefined", () => undefined, Code.INTERNAL, /undefined/, /undefined/],
  ["null", () => null, Code.INTERNAL, /null/, /null/],
  ["a string", () => "disk full", Code.INTERNAL, "disk full", /disk full/],
  ["a number", () => 42, Code.INTERNAL, /a number/, /42/],
  ["a plain object", () => ({ why: "nope" }), Code.INTERNAL, /an object/, /nope/],
  ["a null-prototype object", () => Object.create(null), Code.INTERNAL, /an object/, /\{\}/],
  ["a cyclic object", () => cyclic, Code.INTERNAL, /an object/, /"self":"\[Circular\]"/],
  ["a BigInt", () => 12345678901234567890n, Code.INTERNAL, /a bigint/, /12345678901234567890/],
  ["a symbol", () => Symbol("sym"), Code.INTERNAL, /a symbol/, /sym/],
  ["a proxy whose traps throw", () => hostile, Code.INTERNAL, /handler failed/, /Unreadable/],
  ["an Error", () => new Error("boom"), Code.INTERNAL, "boom", /Error: boom/],
  ["an Error subclass", () => new QuotaError("quota"), Code.INTERNAL, "quota", /QuotaError/],
  [
    "an Error with a cause",
    () => new Error("outer", { cause: new TypeError("inner") }),
    Code.INTERNAL,
    "outer",
    /"cause":\{"name":"TypeError","message":"inner"/,
  ],
  ["an Error whose message getter throws", () => badMessage, Code.INTERNAL, /./, /Error/],
  [
    "an RpcError",
    () => new RpcError(Code.PERMISSION_DENIED, "no"),
    Code.PERMISSION_DENIED,
    "no",
    /^$/,
  ],
  ["an RpcError subclass", () => new NotFound(), Code.NOT_FOUND, "no such user", /^$/],
];

const HOW: Array<[string, (thrown: unknown) => unknown]> = [
  ["thrown synchronously", (t) => {
    throw t;
  }],
  ["returned as a rejected promise", (t) => Promise.reject(t)],
  ["thrown from an async handler after a tick", async (t) => {
    await new Promise((r) => setTimeout(r, 1));
    throw t;
  }],
];

Deno.test("a handler that throws anything yields INTERNAL without a stack and one log line; RpcErrors keep their code", async () => {
  let current: () => unknown = () => undefined;
  let how: (t: unknown) => unknown = () => undefined;
  await using k = await startKitchen({ impl: { Fail: () => how(current()) } });
  for (const [howName, h] of HOW) {
    for (const [name, value, code, message, logged] of CASES) {
      const label = `${name} ${howName}`;
      current = value;
      how = h;
      const before = k.logger.find("error", "handler failed").length;
      let err: unknown;
      try {
        await k.stub.Fail({ mode: "x" });
      } catch (e) {
        err = e;
      }
      assert.ok(
        err instanceof RpcError,
        `${label}: the call did not fail with an RpcError: ${err}`,
      );
      assert.equal(err.codeName, new RpcError(code, "").codeName, label);
      if (typeof message === "string") assert.equal(err.message, message, label);
      else assert.match(err.message, message, label);
      assert.doesNotMatch(err.message, /\n\s+at /, `${label}: a stack trace reached the caller`);
      const lines = k.logger.find("error", "handler failed").slice(before);
      if (err instanceof RpcError && code !== Code.INTERNAL) {
        assert.equal(
          lines.length,
          0,
          `${label}: an RpcError is the handler's answer, not a failure`,
        );
      } else {
        assert.equal(lines.length, 1, `${label}: log lines`);
        const fields = lines[0]!.fields as { error: unknown; method: unknown; thrown: unknown };
        assert.equal(fields.method, "kitchen.Kitchen.Fail", label);
        assert.equal(fields.error, err.message, label);
        // As the provider's loggers write it (they render any value without throwing).
        assert.match(formatFields({ thrown: fields.thrown }), logged, label);
      }
    }
  }
  assert.equal((await k.stub.Echo({ text: "still serving" })).text, "still serving");
});

Deno.test("a handler's thenable that answers and then throws, or answers twice, ends its call once", async () => {
  const root = parseProto(`syntax = "proto3"; package t;
    message M { string text = 1; }
    service S { rpc Once(M) returns (M); rpc Twice(M) returns (M); }`);
  const service = root.lookupService("t.S");
  const provider = new RpcProvider({ port: 0, logger: new CaptureLogger() });
  provider.notifyService(service, {
    Once: (req) => ({
      then(ok: (v: unknown) => void) {
        ok(req);
        throw new Error("thrown after answering");
      },
    }),
    Twice: (req) => ({
      then(ok: (v: unknown) => void, fail: (e: unknown) => void) {
        ok(req);
        ok({ text: "second" });
        fail(new Error("third"));
      },
    }),
  });
  await provider.start();
  const channel = new RpcChannel({ address: provider.address });
  try {
    const stub = channel.stub(service);
    assert.deepEqual(await stub.Once!({ text: "a" }), { text: "a" });
    assert.deepEqual(await stub.Twice!({ text: "b" }), { text: "b" });
    // Ending a call twice counted it out twice: the provider's running count went below zero.
    assert.equal(provider.inflight, 0);
    const snapshot = provider.metrics();
    const calls = snapshot.methods.flatMap((m) => Object.values(m.calls))
      .reduce((a, b) => a + b, 0);
    assert.equal(calls, 2);
  } finally {
    await channel.close();
    await provider.close();
  }
});
