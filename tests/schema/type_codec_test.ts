import assert from "node:assert/strict";
import { protobuf } from "../../src/deps.ts";
import { typeCodec } from "../../src/schema/type_codec.ts";
import { allSamples, fidelityRoot, KEY_TYPES, SCALAR_VALUES } from "../_helpers/fidelity.ts";

const root = await fidelityRoot();
const all = typeCodec(root.lookupType("fidelity.All"));

Deno.test("every field shape of fidelity.All round-trips exactly through the codec, owned and borrowed", () => {
  for (const sample of allSamples()) {
    const bytes = all.encode(sample);
    assert.deepEqual(all.decode(bytes), sample);
    assert.deepEqual(all.decode(bytes.slice(), true), sample);
    assert.deepEqual(
      all.decode(all.encode(all.decode(bytes))),
      sample,
      "a decoded message re-encodes",
    );
  }
});

Deno.test("every scalar type round-trips as a map key, as a map value and repeated (packed and not)", () => {
  const maps = typeCodec(root.lookupType("fidelity.Maps"));
  const rep = typeCodec(root.lookupType("fidelity.Repeated"));
  for (const [t, values] of Object.entries(SCALAR_VALUES)) {
    const name = t.replace(/^./, (c) => c.toUpperCase());
    const valueMap = Object.fromEntries(values.map((v, i) => [`k${i}`, v]));
    assert.deepEqual(maps.decode(maps.encode({ [`v${name}`]: valueMap }))[`v${name}`], valueMap, t);
    assert.deepEqual(rep.decode(rep.encode({ [`r${name}`]: values }))[`r${name}`], values, t);
    if (t !== "string" && t !== "bytes") {
      assert.deepEqual(rep.decode(rep.encode({ [`u${name}`]: values }))[`u${name}`], values, t);
    }
    if (KEY_TYPES.includes(t)) {
      const keyMap = Object.fromEntries(values.map((k, i) => [String(k), `v${i}`]));
      assert.deepEqual(maps.decode(maps.encode({ [`k${name}`]: keyMap }))[`k${name}`], keyMap, t);
    }
  }
});

Deno.test("a map<int64, string> keeps its decimal keys both ways instead of collapsing to one binary key", () => {
  const maps = typeCodec(root.lookupType("fidelity.Maps"));
  const kInt64 = { "-9223372036854775808": "min", "0": "zero", "9223372036854775807": "max" };
  const decoded = maps.decode(maps.encode({ kInt64 }));
  assert.deepEqual(decoded.kInt64, kInt64);
  assert.deepEqual(maps.decode(maps.encode(decoded)).kInt64, kInt64);
});

Deno.test("protobufjs's own messages keep decimal 64-bit map keys too (what rpcImpl users see)", () => {
  const type = root.lookupType("fidelity.Maps");
  const msg = type.decode(
    type.encode(type.fromObject({ kUint64: { "18446744073709551615": "max" } })).finish(),
  );
  assert.deepEqual(type.toObject(msg).kUint64, { "18446744073709551615": "max" });
});

Deno.test("a bool map key false is encoded as false", () => {
  const maps = typeCodec(root.lookupType("fidelity.Maps"));
  assert.deepEqual(maps.decode(maps.encode({ kBool: { false: "no" } })).kBool, { false: "no" });
});

Deno.test("64-bit fields take numbers, bigints and decimal strings, and decode to decimal strings", () => {
  const s = typeCodec(root.lookupType("fidelity.Singular"));
  const cases: Array<[string, unknown, string]> = [
    ["vInt64", -(2n ** 63n), "-9223372036854775808"],
    ["vInt64", 2n ** 63n - 1n, "9223372036854775807"],
    ["vInt64", -(2 ** 63), "-9223372036854775808"],
    ["vInt64", -42, "-42"],
    ["vSint64", -(2n ** 63n), "-9223372036854775808"],
    ["vSfixed64", "-9223372036854775808", "-9223372036854775808"],
    ["vUint64", 2n ** 64n - 1n, "18446744073709551615"],
    ["vUint64", 2 ** 63, "9223372036854775808"],
    ["vUint64", 2 ** 64 - 2048, "18446744073709549568"],
    ["vFixed64", 2n ** 64n - 1n, "18446744073709551615"],
    ["vFixed64", "18446744073709551615", "18446744073709551615"],
    ["vUint64", new protobuf.util.Long(-1, -1, true), "18446744073709551615"],
  ];
  for (const [field, input, output] of cases) {
    assert.equal(s.decode(s.encode({ [field]: input }))[field], output, `${field} ${input}`);
  }
});

Deno.test("enums are taken by name or number and given back by name", () => {
  const s = typeCodec(root.lookupType("fidelity.Singular"));
  assert.equal(s.decode(s.encode({ vEnum: 2 })).vEnum, "BLUE");
  assert.equal(s.decode(s.encode({ vEnum: "BLUE" })).vEnum, "BLUE");
  const r = typeCodec(root.lookupType("fidelity.Repeated"));
  assert.deepEqual(r.decode(r.encode({ rEnum: [1, "RED", 2] })).rEnum, ["GREEN", "RED", "BLUE"]);
});

Deno.test("null and undefined fields are absent: they decode as the field's default", () => {
  const s = typeCodec(root.lookupType("fidelity.Singular"));
  const d = s.decode(s.encode({ vInt32: null, vString: undefined, vLeaf: null, vBytes: null }));
  assert.equal(d.vInt32, 0);
  assert.equal(d.vString, "");
  assert.equal(d.vLeaf, null);
  assert.deepEqual(d.vBytes, new Uint8Array(0));
  assert.equal(s.encode({ vInt32: null, vLeaf: undefined }).length, 0);
});

Deno.test("an empty bytes field decodes to an empty Uint8Array that holds on to nothing of the input", () => {
  const root = protobuf.parse(
    `syntax = "proto3"; message B { bytes a = 1; bytes b = 2; optional bytes c = 3; }`,
  ).root;
  const codec = typeCodec(root.lookupType("B"));
  const input = codec.encode({
    a: new Uint8Array([7]),
    b: new Uint8Array(0),
    c: new Uint8Array(0),
  });
  for (const borrowed of [false, true]) {
    const m = codec.decode(input, borrowed) as Record<string, Uint8Array>;
    assert.deepEqual([...m["a"]!], [7]);
    for (const key of ["b", "c"]) {
      const v = m[key]!;
      assert.ok(v instanceof Uint8Array && v.constructor === Uint8Array, key);
      assert.equal(v.length, 0);
      assert.notEqual(v.buffer, input.buffer, `${key} must not keep the input alive`);
    }
  }
});

Deno.test("protobufjs still decodes bytes fields from a reader over a plain array of numbers", () => {
  const type = protobuf.parse(`syntax = "proto3"; message B { bytes a = 1; bytes b = 2; }`).root
    .lookupType("B");
  const m = type.decode(
    protobuf.Reader.create([10, 2, 7, 8, 18, 0] as unknown as Uint8Array),
  ) as unknown as {
    a: ArrayLike<number>;
    b: ArrayLike<number>;
  };
  assert.deepEqual(Array.from(m.a), [7, 8]);
  assert.equal(m.b.length, 0);
});
