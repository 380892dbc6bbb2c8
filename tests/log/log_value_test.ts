/**
 * How field values are written: `formatFields` (used by ConsoleLogger and AsyncLogger) never
 * throws and never loses what an odd value holds.
 */
import assert from "node:assert/strict";
import { formatFields } from "../../src/log/logger.ts";
import { cloneableFields, toLogValue } from "../../src/log/_log_value.ts";

/** The JSON after `key=` in a formatted line. */
function jsonOf(line: string, key: string): unknown {
  const at = line.indexOf(` ${key}=`);
  assert.ok(at >= 0, `no ${key}= in ${line}`);
  const rest = line.slice(at + key.length + 2);
  // The value runs to the next " word=" outside JSON strings: parse the longest valid prefix.
  for (let end = rest.length; end > 0; end--) {
    if (end < rest.length && rest[end] !== " ") continue;
    try {
      return JSON.parse(rest.slice(0, end));
    } catch {
      // shorter
    }
  }
  assert.fail(`no JSON after ${key}= in ${line}`);
}

Deno.test("a bigint field is written as its decimal digits, at top level, nested and in arrays", () => {
  const line = formatFields({
    id: 12345678901234567890n,
    nested: { id: -98765432109876543210n },
    list: [1n, 2],
  });
  assert.equal(
    line,
    ' id=12345678901234567890 nested={"id":-98765432109876543210} list=[1,2]',
  );
});

Deno.test("a field that refers to itself is written with [Circular] instead of throwing", () => {
  const a: Record<string, unknown> = { name: "a" };
  a.self = a;
  const list: unknown[] = [1];
  list.push(list);
  const shared = { x: 1 };
  const line = formatFields({ a, list, twice: [shared, shared], deep: { inner: { a } } });
  assert.deepEqual(jsonOf(line, "a"), { name: "a", self: "[Circular]" });
  assert.deepEqual(jsonOf(line, "list"), [1, "[Circular]"]);
  assert.deepEqual(jsonOf(line, "twice"), [{ x: 1 }, { x: 1 }], "a shared object is no cycle");
  assert.deepEqual(jsonOf(line, "deep"), { inner: { a: { name: "a", self: "[Circular]" } } });
});

Deno.test("an Error field keeps name, message, own fields, cause (recursively), AggregateError's errors and stack", () => {
  const root = new RangeError("root cause");
  const err = Object.assign(new Error("request failed", { cause: root }), { code: "E_FAIL" });
  const agg = new AggregateError([new TypeError("first"), "second"], "all failed");
  const looped = new Error("looped");
  looped.cause = looped;
  const line = formatFields({ err, agg, looped, nested: { errors: [err] } });
  const e = jsonOf(line, "err") as Record<string, Record<string, unknown>>;
  assert.equal(e.name, "Error");
  assert.equal(e.message, "request failed");
  assert.equal(e.code, "E_FAIL");
  assert.match(String(e.stack), /^Error: request failed\n\s+at /);
  assert.equal(e.cause!.name, "RangeError");
  assert.equal(e.cause!.message, "root cause");
  assert.match(String(e.cause!.stack), /RangeError: root cause/);
  const g = jsonOf(line, "agg") as { name: string; errors: unknown[] };
  assert.equal(g.name, "AggregateError");
  assert.equal((g.errors[0] as { message: string }).message, "first");
  assert.equal(g.errors[1], "second");
  assert.equal((jsonOf(line, "looped") as { cause: unknown }).cause, "[Circular]");
  const n = jsonOf(line, "nested") as { errors: { message: string }[] };
  assert.equal(n.errors[0]!.message, "request failed");
});

Deno.test("odd values are rendered wherever they sit: symbol, function, undefined, NaN, Infinity, Map, Set, typed arrays, Dates", () => {
  function handler() {}
  const odd = {
    sym: Symbol("tag"),
    fn: handler,
    anon: [() => 1][0],
    undef: undefined,
    nan: NaN,
    inf: -Infinity,
    map: new Map<unknown, unknown>([["a", 1], [2, { b: 2n }]]),
    set: new Set(["x", NaN]),
    bytes: new Uint8Array([1, 2, 255]),
    bigs: new BigInt64Array([-1n]),
    buf: new ArrayBuffer(16),
    date: new Date(Date.UTC(2024, 0, 5)),
    bad: new Date(NaN),
    re: /a+b/g,
    instance: new (class Session {
      #secret = 1;
    })(),
  };
  const line = formatFields({ ...odd, nested: odd, list: Object.values(odd) });
  assert.match(
    line,
    new RegExp(
      '^ sym=Symbol\\(tag\\) fn="\\[Function: handler\\]" anon="\\[Function \\(anonymous\\)\\]" ' +
        "undef=undefined nan=NaN inf=-Infinity " +
        'map=\\{"2":\\{"b":2\\},"a":1\\} set=\\["x","NaN"\\] bytes=\\[1,2,255\\] bigs=\\[-1\\] ' +
        'buf="\\[ArrayBuffer 16 bytes\\]" date="2024-01-05T00:00:00.000Z" bad="Invalid Date" ' +
        "re=/a\\+b/g instance=\\[Session\\] nested=",
    ),
  );
  const expected = {
    sym: "Symbol(tag)",
    fn: "[Function: handler]",
    anon: "[Function (anonymous)]",
    undef: "undefined",
    nan: "NaN",
    inf: "-Infinity",
    map: { a: 1, 2: { b: 2 } },
    set: ["x", "NaN"],
    bytes: [1, 2, 255],
    bigs: [-1],
    buf: "[ArrayBuffer 16 bytes]",
    date: "2024-01-05T00:00:00.000Z",
    bad: "Invalid Date",
    re: "/a+b/g",
    instance: "[Session]",
  };
  assert.deepEqual(jsonOf(line, "nested"), expected);
  assert.deepEqual(jsonOf(line, "list"), Object.values(expected));
});

Deno.test("a throwing getter, a throwing toJSON or a revoked proxy is written as [Unreadable: …]", () => {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  const getter = {
    ok: 1,
    get broken(): number {
      throw new TypeError("no access");
    },
  };
  const toJSON = {
    toJSON(): never {
      throw new TypeError("cannot serialize");
    },
  };
  const fields = { getter, toJSON, proxy, inArray: [proxy, 2] } as Record<string, unknown>;
  Object.defineProperty(fields, "top", {
    enumerable: true,
    get() {
      throw new Error("top-level getter");
    },
  });
  const line = formatFields(fields);
  assert.deepEqual(jsonOf(line, "getter"), { ok: 1, broken: "[Unreadable: TypeError: no access]" });
  assert.match(line, / toJSON="\[Unreadable: TypeError: [^"]+\]"/);
  assert.match(line, / proxy="\[Unreadable: TypeError: [^"]*revoked[^"]*\]"/);
  assert.match(line, / inArray=\["\[Unreadable: TypeError: [^"]*revoked[^"]*\]",2\]/);
  assert.match(line, / top="\[Unreadable: Error: top-level getter\]"/);
  // The fields object itself may be a revoked proxy.
  assert.match(formatFields(proxy as Record<string, unknown>), /^ fields="\[Unreadable: /);
});

Deno.test("data nested deeper than the renderer's limit is cut with [Truncated], not a stack overflow", () => {
  let chain: Record<string, unknown> = { end: true, sym: Symbol("forces the careful renderer") };
  for (let i = 0; i < 100_000; i++) chain = { next: chain };
  const line = formatFields({ chain });
  assert.ok(line.includes('"[Truncated]"'), line.slice(0, 200));
  assert.ok(line.length < 10_000);
});

Deno.test("cloneableFields: every value can cross postMessage and then renders to the same text", () => {
  const cyclic: Record<string, unknown> = { n: 1 };
  cyclic.self = cyclic;
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  const fields = {
    text: "a b",
    n: 3,
    big: 12345678901234567890n,
    fn: () => 1,
    sym: Symbol("s"),
    err: new Error("boom", { cause: 7n }),
    cyclic,
    proxy,
    map: new Map([["k", () => 2]]),
  };
  assert.throws(() => structuredClone(fields), /could not be cloned/);
  const safe = cloneableFields(fields);
  const crossed = structuredClone(safe); // what postMessage does
  assert.equal(formatFields(crossed), formatFields(fields));
  assert.equal(crossed.big, 12345678901234567890n, "bigints cross as bigints");
  assert.deepEqual(toLogValue(new Set([1n])), [1n]);
});
