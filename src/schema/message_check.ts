/**
 * Compiled input checks: one function per message type, generated once (like protobufjs's own
 * codecs), that checks a plain object against the type before it is encoded and converts the
 * few values protobufjs's encoder cannot take as they are (enum names, bigints, 64-bit numbers
 * beyond 2^63). Nothing is coerced: a value of the wrong type, out of range or for an unknown
 * field throws a {@linkcode TypeError} naming the field path, e.g.
 * `items[2].id: expected int32, got 1099511627776`.
 *
 * What is accepted, per field type:
 * - `int32`, `sint32`, `sfixed32`, `uint32`, `fixed32`: an integer `number` within the type's range.
 * - `int64`, `sint64`, `sfixed64`, `uint64`, `fixed64`: an integer `number`, a `bigint`, a
 *   decimal string (`"-9223372036854775808"`, `"18446744073709551615"`) or a protobufjs `Long`,
 *   within the type's range.
 * - `double`: any `number`; `float`: a `number` within float's range (or NaN, ±Infinity). `bool`: a `boolean`. `string`: a `string`.
 * - `bytes`: a `Uint8Array` (a base64 string is refused: it would be ambiguous with text).
 * - enums: a value name (`"GREEN"`) or a defined value number (`1`).
 * - messages and maps: a plain object (map keys as the object's keys: decimal strings for
 *   integer keys, `"true"`/`"false"` for `bool` keys); repeated fields: an array.
 * - `null` or `undefined` for a field: the field is absent. Not allowed inside arrays or as map
 *   values. At most one field of a `oneof` may be set.
 *
 * @module
 */
import { protobuf } from "./_protobuf_internals.ts";

/** Converts and checks a plain object of one message type; returns the object to encode. */
export type MessageCheck = (message: object) => object;

/** A check failure below the top level: the path is collected on the way up. */
class FieldError extends Error {
  readonly segments: string[];
  readonly detail: string;
  constructor(segment: string, detail: string) {
    super(detail);
    this.segments = [segment];
    this.detail = detail;
  }
}

function describe(v: unknown): string {
  switch (typeof v) {
    case "string":
      return v.length > 40 ? `${JSON.stringify(v.slice(0, 40))}...` : JSON.stringify(v);
    case "bigint":
      return `${v}n`;
    case "number":
    case "boolean":
    case "undefined":
      return String(v);
    case "function":
      return "a function";
    case "symbol":
      return "a symbol";
  }
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  const name = (v as object).constructor?.name;
  if (!name || name === "Object") return "an object";
  return `${/^[aeiou]/i.test(name) ? "an" : "a"} ${name}`;
}

function keySegment(key: string): string {
  return /^-?\d+$/.test(key) ? `[${key}]` : `[${JSON.stringify(key)}]`;
}

/** `expected <what>, got <value>` at `segment`. */
function bad(segment: string, what: string, value: unknown): FieldError {
  return new FieldError(segment, `expected ${what}, got ${describe(value)}`);
}

/** Prepends `segment` to the path of a check failure from a nested message. */
function under(e: unknown, segment: string): unknown {
  if (e instanceof FieldError) e.segments.unshift(segment);
  return e;
}

function pathOf(segments: string[]): string {
  let out = "";
  for (const s of segments) out += s.startsWith("[") || out === "" ? s : `.${s}`;
  return out;
}

/** Marks an invalid 64-bit value. */
const INVALID = Symbol("invalid");

const U64_MAX = 2n ** 64n - 1n;
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const LONG_RE = /^-?\d{1,20}$/;
const Long = protobuf.util.Long as unknown as (new (...a: never[]) => object) | undefined;

/** A 64-bit integer as protobufjs's writer takes it (number, decimal string or Long). */
function long(v: unknown, unsigned: boolean): unknown {
  switch (typeof v) {
    case "number":
      if (!Number.isInteger(v)) return INVALID;
      if (unsigned ? v < 0 || v >= 2 ** 64 : v < -(2 ** 63) || v >= 2 ** 63) return INVALID;
      // protobufjs reads a number as a signed 64-bit value: pass larger ones as text.
      return v >= 2 ** 63 ? BigInt(v).toString() : v;
    case "string": {
      if (!LONG_RE.test(v)) return INVALID;
      if (v.length < 16) return unsigned && v.charCodeAt(0) === 45 && /[1-9]/.test(v) ? INVALID : v;
      const b = BigInt(v);
      return (unsigned ? b < 0n || b > U64_MAX : b < I64_MIN || b > I64_MAX) ? INVALID : v;
    }
    case "bigint":
      return (unsigned ? v < 0n || v > U64_MAX : v < I64_MIN || v > I64_MAX)
        ? INVALID
        : v.toString();
  }
  return Long !== undefined && v instanceof Long ? v : INVALID;
}

const INT32_RE = /^-?\d{1,10}$/;

/** Whether an object key is a valid map key of a 32-bit integer type. */
function int32Key(k: string, unsigned: boolean): boolean {
  if (!INT32_RE.test(k)) return false;
  const n = Number(k);
  return unsigned ? (n >>> 0) === n && k.charCodeAt(0) !== 45 : (n | 0) === n;
}

/** Scalar checks: a JavaScript expression over `$` that is true when `$` is valid. */
const SCALAR_TEST: Record<string, string> = {
  double: `typeof $ === "number"`,
  // Finite values beyond float's range would be written as Infinity: refused (NaN and the
  // infinities themselves are floats).
  float: `typeof $ === "number" && !($ > 3.4028234663852886e38 && $ !== Infinity) && ` +
    `!($ < -3.4028234663852886e38 && $ !== -Infinity)`,
  int32: `typeof $ === "number" && ($ | 0) === $`,
  sint32: `typeof $ === "number" && ($ | 0) === $`,
  sfixed32: `typeof $ === "number" && ($ | 0) === $`,
  uint32: `typeof $ === "number" && ($ >>> 0) === $`,
  fixed32: `typeof $ === "number" && ($ >>> 0) === $`,
  bool: `typeof $ === "boolean"`,
  string: `typeof $ === "string"`,
  bytes: `$ instanceof Uint8Array`,
};

/** The 64-bit integer types, and whether each is unsigned. */
const LONG_UNSIGNED: Record<string, boolean> = {
  int64: false,
  sint64: false,
  sfixed64: false,
  uint64: true,
  fixed64: true,
};

/** Whether a field type is a 64-bit integer (crossing the API as a decimal string). */
export function isLongType(type: string): boolean {
  return LONG_UNSIGNED[type] !== undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

/** Converts an enum name or number to the number, or `undefined`. */
type EnumCheck = (v: unknown) => number | undefined;

function enumCheck(e: protobuf.Enum): EnumCheck {
  const byName = new Map(Object.entries(e.values));
  const byId = new Set(Object.values(e.values));
  return (v) =>
    typeof v === "string" ? byName.get(v) : typeof v === "number" && byId.has(v) ? v : undefined;
}

interface Slot {
  fn: MessageCheck;
}
const slots = new WeakMap<protobuf.Type, Slot>();

/**
 * The (cached) check of a message type.
 *
 * @example
 * ```ts
 * import { parseProto } from "./load_proto.ts";
 * import { messageCheck } from "./message_check.ts";
 * const type = parseProto(`syntax = "proto3"; message P { int32 id = 1; }`).lookupType("P");
 * let error = "";
 * try {
 *   messageCheck(type)({ id: 2 ** 40 });
 * } catch (e) {
 *   error = (e as Error).message;
 * }
 * if (error !== "id: expected int32, got 1099511627776") throw new Error(error);
 * ```
 */
export function messageCheck(type: protobuf.Type): MessageCheck {
  const fn = slotOf(type).fn;
  const name = type.fullName.slice(1);
  return (message: object): object => {
    if (!isPlainObject(message)) {
      throw new TypeError(`expected ${name} as a plain object, got ${describe(message)}`);
    }
    try {
      return fn(message);
    } catch (e) {
      if (e instanceof FieldError) throw new TypeError(`${pathOf(e.segments)}: ${e.detail}`);
      throw e;
    }
  };
}

function slotOf(type: protobuf.Type): Slot {
  let slot = slots.get(type);
  if (slot !== undefined) return slot;
  slot = { fn: (m) => m };
  slots.set(type, slot); // before compiling: recursive types refer to their own slot
  slot.fn = compile(type);
  return slot;
}

/** Generates the check of `type`: a `switch` over the object's keys, one case per field. */
function compile(type: protobuf.Type): MessageCheck {
  const deps: unknown[] = [];
  const dep = (value: unknown): string => {
    let i = deps.indexOf(value);
    if (i < 0) i = deps.push(value) - 1;
    return `D[${i}]`;
  };
  const lines: string[] = [];
  const oneofs = new Map<protobuf.OneOf, string>();
  for (const f of type.fieldsArray) {
    f.resolve();
    const key = JSON.stringify(f.name);
    lines.push(`case ${key}: if (v == null) break;`);
    if (f.partOf) {
      let counter = oneofs.get(f.partOf);
      if (counter === undefined) oneofs.set(f.partOf, counter = `o${oneofs.size}`);
      lines.push(
        `if (${counter} !== undefined) throw ${dep(twoOfOneof)}(${key}, ${
          JSON.stringify(f.partOf.name)
        }, ${counter}); ${counter} = ${key};`,
      );
    }
    if (f.map) {
      lines.push(mapCode(f, key, dep));
    } else if (f.repeated) {
      lines.push(
        `if (!Array.isArray(v)) throw ${dep(bad)}(${key}, "array", v);`,
        `{ let a = v; for (let i = 0; i < v.length; i++) { const e = v[i];`,
        valueCode(
          f,
          "e",
          `${key} + "[" + i + "]"`,
          (x) => `{ if (a === v) a = v.slice(); a[i] = ${x}; }`,
          dep,
        ),
        `} if (a !== v) { if (o === m) o = { ...m }; o[${key}] = a; } }`,
      );
    } else {
      lines.push(
        valueCode(f, "v", key, (x) => `{ if (o === m) o = { ...m }; o[${key}] = ${x}; }`, dep),
      );
    }
    lines.push("break;");
  }
  const counters = [...oneofs.values()].map((c) => `let ${c};`).join(" ");
  const body = `return function check_${type.name}(m) {
  let o = m; ${counters}
  for (const k in m) {
    const v = m[k];
    switch (k) {
      ${lines.join("\n      ")}
      default:
        if (v !== undefined) throw ${dep(unknownField)}(k, ${dep(type)});
    }
  }
  return o;
};`;
  return new Function("D", body)(deps) as MessageCheck;
}

function twoOfOneof(k: string, oneof: string, other: string): FieldError {
  return new FieldError(k, `only one field of oneof ${oneof} may be set, and ${other} is`);
}

function unknownField(k: string, type: protobuf.Type): FieldError {
  const camel = k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  const hint = camel !== k && type.fields[camel] ? ` (did you mean ${camel}?)` : "";
  return new FieldError(k, `unknown field of ${type.fullName.slice(1)}${hint}`);
}

/**
 * The code that checks one value `x` of field `f` (a single field's value or one element of a
 * repeated field) and, when it must be converted, runs `replace(converted)`.
 */
function valueCode(
  f: protobuf.Field,
  x: string,
  whereExpr: string,
  replace: (converted: string) => string,
  dep: (value: unknown) => string,
): string {
  const fail = (what: string) => `throw ${dep(bad)}(${whereExpr}, ${JSON.stringify(what)}, ${x});`;
  const t = f.resolvedType;
  if (t instanceof protobuf.Type) {
    const name = t.fullName.slice(1);
    return `if (!(${x} instanceof ${dep(t.ctor)})) {
      if (${x} === null || typeof ${x} !== "object" || Array.isArray(${x}) || ArrayBuffer.isView(${x})) ${
      fail(`${name} (an object)`)
    }
      let c; try { c = ${dep(slotOf(t))}.fn(${x}); } catch (e) { throw ${
      dep(under)
    }(e, ${whereExpr}); }
      if (c !== ${x}) ${replace("c")}
    }`;
  }
  if (t instanceof protobuf.Enum) {
    return `{ const n = ${dep(enumCheck(t))}(${x}); if (n === undefined) ${
      fail(`${t.fullName.slice(1)} (a value name or number)`)
    } if (n !== ${x}) ${replace("n")} }`;
  }
  const unsigned = LONG_UNSIGNED[f.type];
  if (unsigned !== undefined) {
    return `{ const n = ${dep(long)}(${x}, ${unsigned}); if (n === ${dep(INVALID)}) ${
      fail(`${f.type} (an integer number, bigint or decimal string in range)`)
    } if (n !== ${x}) ${replace("n")} }`;
  }
  const test = SCALAR_TEST[f.type];
  if (test === undefined) return "";
  return `if (!(${test.replaceAll("$", x)})) ${
    fail(f.type === "bytes" ? "bytes (a Uint8Array)" : f.type)
  }`;
}

function mapCode(f: protobuf.Field, key: string, dep: (value: unknown) => string): string {
  const keyType = (f as unknown as protobuf.MapField).keyType;
  let keyTest = "";
  if (LONG_UNSIGNED[keyType] !== undefined) {
    keyTest = `${dep(long)}(mk, ${LONG_UNSIGNED[keyType]}) === ${dep(INVALID)}`;
  } else if (keyType === "bool") {
    keyTest = `mk !== "true" && mk !== "false"`;
  } else if (keyType !== "string") {
    keyTest = `!${dep(int32Key)}(mk, ${keyType === "uint32" || keyType === "fixed32"})`;
  }
  const where = `${key} + ${dep(keySegment)}(mk)`;
  return `if (v === null || typeof v !== "object" || Array.isArray(v) || ArrayBuffer.isView(v)) throw ${
    dep(bad)
  }(${key}, "map (an object)", v);
  { let mc = v; for (const mk in v) { const e = v[mk];
    ${
    keyTest
      ? `if (${keyTest}) throw ${dep(bad)}(${where}, ${JSON.stringify(`${keyType} key`)}, mk);`
      : ""
  }
    if (e == null) throw ${dep(bad)}(${where}, "a value", e);
    ${valueCode(f, "e", where, (x) => `{ if (mc === v) mc = { ...v }; mc[mk] = ${x}; }`, dep)}
  } if (mc !== v) { if (o === m) o = { ...m }; o[${key}] = mc; } }`;
}
