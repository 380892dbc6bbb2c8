/**
 * The values of `tests/_fixtures/fidelity.proto`'s round-trip tests, table-driven: per scalar
 * type, edge values in the form a decoded message holds them (64-bit as decimal strings, enums
 * by name), and samples of `fidelity.All` built from that table with every field set, so a
 * sample equals its own round trip.
 *
 * @module
 */
import { loadProto, type Root } from "../../src/schema/load_proto.ts";
import type { Message } from "../../src/schema/method_descriptor.ts";
import type { Handler } from "../../src/server/server_connection.ts";

/** Edge values per scalar type, as decoded. */
export const SCALAR_VALUES: Record<string, unknown[]> = {
  double: [0, -1.5, Number.MAX_VALUE, Number.MIN_VALUE, -Infinity, Infinity, NaN],
  float: [0, 1.5, -0.25, 3.4028234663852886e38, Infinity],
  int32: [0, -1, -(2 ** 31), 2 ** 31 - 1],
  int64: ["0", "-1", "-9223372036854775808", "9223372036854775807", "9007199254740993"],
  uint32: [0, 1, 2 ** 32 - 1],
  uint64: ["0", "1", "9223372036854775808", "18446744073709551615"],
  sint32: [0, -1, -(2 ** 31), 2 ** 31 - 1],
  sint64: ["0", "-1", "-9223372036854775808", "9223372036854775807"],
  fixed32: [0, 1, 2 ** 32 - 1],
  fixed64: ["0", "1", "9223372036854775808", "18446744073709551615"],
  sfixed32: [0, -1, -(2 ** 31), 2 ** 31 - 1],
  sfixed64: ["0", "-1", "-9223372036854775808", "9223372036854775807"],
  bool: [false, true],
  string: ["", "plain", "héllo ☃ 𝄞 \u0000 end"],
  bytes: [new Uint8Array(0), new Uint8Array([0, 1, 127, 128, 255]), new Uint8Array(300).fill(7)],
};

/** The scalar types that can be map keys. */
export const KEY_TYPES = Object.keys(SCALAR_VALUES).filter((t) =>
  !["double", "float", "bytes"].includes(t)
);

/** `v_int32` → `vInt32`, as protobufjs names fields. */
function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** A `fidelity.Leaf`, with every field present as decoded. */
export function leaf(label: string, child: Message | null = null): Message {
  return { label, color: "BLUE", child };
}

function singular(): Message {
  const out: Message = {};
  for (const [t, values] of Object.entries(SCALAR_VALUES)) out[camel(`v_${t}`)] = values.at(-1);
  out.vEnum = "GREEN";
  out.vLeaf = leaf("outer", leaf("inner", leaf("innermost")));
  return out;
}

function repeated(): Message {
  const out: Message = {};
  for (const [t, values] of Object.entries(SCALAR_VALUES)) {
    out[camel(`r_${t}`)] = values;
    if (t !== "string" && t !== "bytes") out[camel(`u_${t}`)] = values;
  }
  out.rEnum = ["BLUE", "RED", "GREEN", "RED"];
  out.rLeaf = [leaf("a"), leaf("b", leaf("c"))];
  return out;
}

function maps(): Message {
  const out: Message = {};
  for (const t of KEY_TYPES) {
    const m: Record<string, string> = {};
    SCALAR_VALUES[t]!.forEach((k, i) => m[String(k)] = `value ${i}`);
    out[camel(`k_${t}`)] = m;
  }
  for (const [t, values] of Object.entries(SCALAR_VALUES)) {
    const m: Record<string, unknown> = {};
    values.forEach((v, i) => m[`key ${i}`] = v);
    out[camel(`v_${t}`)] = m;
  }
  out.vEnum = { r: "RED", b: "BLUE" };
  out.vLeaf = { one: leaf("1"), two: leaf("2", leaf("2.1")) };
  out.kInt64Leaf = { "-9223372036854775808": leaf("min"), "9223372036854775807": leaf("max") };
  return out;
}

function wellKnown(): Message {
  const anyLeaf = new Uint8Array([10, 3, 97, 110, 121, 16, 2]); // Leaf { label: "any", BLUE }
  return {
    at: { seconds: "-62135596800", nanos: 999_999_999 },
    took: { seconds: "315576000000", nanos: -1 },
    any: { typeUrl: "type.googleapis.com/fidelity.Leaf", value: anyLeaf },
    struct: {
      fields: {
        n: { numberValue: 1.5 },
        s: { stringValue: "text" },
        b: { boolValue: true },
        z: { nullValue: "NULL_VALUE" },
        l: { listValue: { values: [{ numberValue: -2 }, { stringValue: "x" }] } },
        o: { structValue: { fields: { inner: { boolValue: false } } } },
      },
    },
    value: { stringValue: "a Value" },
    list: { values: [{ numberValue: 0 }, { nullValue: "NULL_VALUE" }] },
    empty: {},
    mask: { paths: ["singular.v_int32", "maps"] },
    wDouble: { value: -0.5 },
    wFloat: { value: 0.25 },
    wInt64: { value: "-9223372036854775808" },
    wUint64: { value: "18446744073709551615" },
    wInt32: { value: -(2 ** 31) },
    wUint32: { value: 2 ** 32 - 1 },
    wBool: { value: true },
    wString: { value: "wrapped" },
    wBytes: { value: new Uint8Array([1, 2, 3]) },
  };
}

/** Every member of `fidelity.Choice`'s oneof, one sample each (with and without `maybe`). */
export const CHOICES: Message[] = [
  { text: "chosen" },
  { number: "-9223372036854775808", maybe: 0 },
  { leaf: leaf("picked") },
  { blob: new Uint8Array([9, 8, 7]) },
  { color: "RED", maybe: -5 },
  {},
];

/** `fidelity.All` samples, each with every field set: one per member of the oneof. */
export function allSamples(): Message[] {
  return CHOICES.map((choice) => ({
    singular: singular(),
    repeated: repeated(),
    maps: maps(),
    choice,
    wellKnown: wellKnown(),
  }));
}

let rootPromise: Promise<Root> | undefined;

/** The parsed `fidelity.proto`. */
export function fidelityRoot(): Promise<Root> {
  return rootPromise ??= loadProto(new URL("../_fixtures/fidelity.proto", import.meta.url));
}

/** Handlers of `fidelity.Fidelity`: `Echo` answers with its request, `Where` says the thread. */
export const FIDELITY_IMPL: Record<string, Handler> = {
  Echo: (req) => req,
  Where: () => ({
    worker:
      typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "undefined",
  }),
};
