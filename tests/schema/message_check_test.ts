import assert from "node:assert/strict";
import { typeCodec } from "../../src/schema/type_codec.ts";
import { messageCheck } from "../../src/schema/message_check.ts";
import { fidelityRoot } from "../_helpers/fidelity.ts";

const root = await fidelityRoot();
const all = typeCodec(root.lookupType("fidelity.All"));

/** Wrong input for `fidelity.All`, and the error it must give (path: what was expected). */
const WRONG: Array<[string, unknown, string]> = [
  [
    "object for a string",
    { singular: { vString: { a: 1 } } },
    "singular.vString: expected string, got an object",
  ],
  [
    "text for an int32",
    { singular: { vInt32: "abc" } },
    `singular.vInt32: expected int32, got "abc"`,
  ],
  [
    "numeric text for an int32",
    { singular: { vInt32: "5" } },
    `singular.vInt32: expected int32, got "5"`,
  ],
  [
    "2**40 for an int32",
    { singular: { vInt32: 2 ** 40 } },
    "singular.vInt32: expected int32, got 1099511627776",
  ],
  [
    "2**31 for an int32",
    { singular: { vInt32: 2 ** 31 } },
    "singular.vInt32: expected int32, got 2147483648",
  ],
  [
    "-(2**31)-1 for an sint32",
    { singular: { vSint32: -(2 ** 31) - 1 } },
    "singular.vSint32: expected sint32, got -2147483649",
  ],
  [
    "2**31 for an sfixed32",
    { singular: { vSfixed32: 2 ** 31 } },
    "singular.vSfixed32: expected sfixed32",
  ],
  ["-1 for a uint32", { singular: { vUint32: -1 } }, "singular.vUint32: expected uint32, got -1"],
  [
    "2**32 for a fixed32",
    { singular: { vFixed32: 2 ** 32 } },
    "singular.vFixed32: expected fixed32, got 4294967296",
  ],
  ["1.5 for an int32", { singular: { vInt32: 1.5 } }, "singular.vInt32: expected int32, got 1.5"],
  [
    "1e300 for a float (would be written as Infinity)",
    { singular: { vFloat: 1e300 } },
    "singular.vFloat: expected float, got 1e+300",
  ],
  [
    "-1e39 for a float",
    { singular: { vFloat: -1e39 } },
    "singular.vFloat: expected float, got -1e+39",
  ],
  ["NaN for an int32", { singular: { vInt32: NaN } }, "singular.vInt32: expected int32, got NaN"],
  [
    "a bigint for an int32",
    { singular: { vInt32: 5n } },
    "singular.vInt32: expected int32, got 5n",
  ],
  ["NaN for an int64", { singular: { vInt64: NaN } }, "singular.vInt64: expected int64"],
  ["1.5 for an int64", { singular: { vInt64: 1.5 } }, "singular.vInt64: expected int64"],
  ["2**63 for an int64", { singular: { vInt64: 2 ** 63 } }, "singular.vInt64: expected int64"],
  ["2n**63n for an int64", { singular: { vInt64: 2n ** 63n } }, "singular.vInt64: expected int64"],
  [
    "-(2n**63n)-1n for an sint64",
    { singular: { vSint64: -(2n ** 63n) - 1n } },
    "singular.vSint64: expected sint64",
  ],
  [
    '"9223372036854775808" for an sfixed64',
    { singular: { vSfixed64: "9223372036854775808" } },
    "singular.vSfixed64: expected sfixed64",
  ],
  ["-1 for a uint64", { singular: { vUint64: -1 } }, "singular.vUint64: expected uint64"],
  ['"-1" for a fixed64', { singular: { vFixed64: "-1" } }, "singular.vFixed64: expected fixed64"],
  [
    "2n**64n for a uint64",
    { singular: { vUint64: 2n ** 64n } },
    "singular.vUint64: expected uint64",
  ],
  [
    '"18446744073709551616" for a uint64',
    { singular: { vUint64: "18446744073709551616" } },
    "singular.vUint64: expected uint64",
  ],
  ["2**64 for a uint64", { singular: { vUint64: 2 ** 64 } }, "singular.vUint64: expected uint64"],
  ['"12abc" for an int64', { singular: { vInt64: "12abc" } }, "singular.vInt64: expected int64"],
  ['"0x10" for an int64', { singular: { vInt64: "0x10" } }, "singular.vInt64: expected int64"],
  ['"" for an int64', { singular: { vInt64: "" } }, "singular.vInt64: expected int64"],
  ["a number for a bool", { singular: { vBool: 1 } }, "singular.vBool: expected bool, got 1"],
  [
    "text for a double",
    { singular: { vDouble: "1.5" } },
    `singular.vDouble: expected double, got "1.5"`,
  ],
  [
    "base64 text for bytes",
    { singular: { vBytes: "aGk=" } },
    `singular.vBytes: expected bytes (a Uint8Array), got "aGk="`,
  ],
  [
    "a number array for bytes",
    { singular: { vBytes: [1, 2] } },
    "singular.vBytes: expected bytes (a Uint8Array), got an array",
  ],
  [
    "an ArrayBuffer for bytes",
    { singular: { vBytes: new ArrayBuffer(2) } },
    "singular.vBytes: expected bytes (a Uint8Array), got an ArrayBuffer",
  ],
  [
    "an unknown enum name",
    { singular: { vEnum: "PURPLE" } },
    `singular.vEnum: expected fidelity.Color (a value name or number), got "PURPLE"`,
  ],
  [
    "an unknown enum number",
    { singular: { vEnum: 7 } },
    "singular.vEnum: expected fidelity.Color (a value name or number), got 7",
  ],
  [
    "an inherited name as an enum name",
    { singular: { vEnum: "toString" } },
    "singular.vEnum: expected fidelity.Color",
  ],
  [
    "an unknown field",
    { singular: { nope: 1 } },
    "singular.nope: unknown field of fidelity.Singular",
  ],
  [
    "a snake_case field name",
    { singular: { v_int32: 1 } },
    "singular.v_int32: unknown field of fidelity.Singular (did you mean vInt32?)",
  ],
  ["an unknown top-level field", { extra: null }, "extra: unknown field of fidelity.All"],
  [
    "text for a message",
    { singular: "x" },
    `singular: expected fidelity.Singular (an object), got "x"`,
  ],
  [
    "an array for a message",
    { singular: [] },
    "singular: expected fidelity.Singular (an object), got an array",
  ],
  [
    "an object for a repeated field",
    { repeated: { rInt32: { 0: 1 } } },
    "repeated.rInt32: expected array, got an object",
  ],
  [
    "text for a repeated field",
    { repeated: { rString: "abc" } },
    `repeated.rString: expected array, got "abc"`,
  ],
  [
    "a bad element",
    { repeated: { rInt32: [1, 2, 2 ** 40] } },
    "repeated.rInt32[2]: expected int32, got 1099511627776",
  ],
  [
    "a null element",
    { repeated: { rString: ["a", null] } },
    "repeated.rString[1]: expected string, got null",
  ],
  [
    "a bad field of an element",
    { repeated: { rLeaf: [{}, {}, { label: 5 }] } },
    "repeated.rLeaf[2].label: expected string, got 5",
  ],
  [
    "a bad enum element",
    { repeated: { rEnum: ["RED", "MAUVE"] } },
    "repeated.rEnum[1]: expected fidelity.Color",
  ],
  [
    "an array for a map",
    { maps: { vString: ["a"] } },
    "maps.vString: expected map (an object), got an array",
  ],
  [
    "a bad map value",
    { maps: { vInt32: { a: 1, b: "2" } } },
    `maps.vInt32["b"]: expected int32, got "2"`,
  ],
  [
    "a null map value",
    { maps: { vString: { a: null } } },
    `maps.vString["a"]: expected a value, got null`,
  ],
  [
    "a bad int64 map key",
    { maps: { kInt64: { abc: "x" } } },
    `maps.kInt64["abc"]: expected int64 key, got "abc"`,
  ],
  [
    "an out-of-range uint64 map key",
    { maps: { kUint64: { "-1": "x" } } },
    "maps.kUint64[-1]: expected uint64 key",
  ],
  [
    "an out-of-range int32 map key",
    { maps: { kInt32: { "2147483648": "x" } } },
    "maps.kInt32[2147483648]: expected int32 key",
  ],
  [
    "a fractional int32 map key",
    { maps: { kSint32: { "1.5": "x" } } },
    `maps.kSint32["1.5"]: expected sint32 key`,
  ],
  [
    "a bad bool map key",
    { maps: { kBool: { yes: "x" } } },
    `maps.kBool["yes"]: expected bool key, got "yes"`,
  ],
  ["a bad field deep in a map value", {
    maps: { kInt64Leaf: { "5": { child: { color: "NAVY" } } } },
  }, "maps.kInt64Leaf[5].child.color: expected fidelity.Color"],
  [
    "two members of a oneof",
    { choice: { text: "a", number: 1 } },
    "choice.number: only one field of oneof pick may be set, and text is",
  ],
  [
    "a bad well-known type field",
    { wellKnown: { at: { seconds: "soon" } } },
    `wellKnown.at.seconds: expected int64`,
  ],
  [
    "a well-known type in its JSON form",
    { wellKnown: { at: "2020-01-01T00:00:00Z" } },
    "wellKnown.at: expected google.protobuf.Timestamp (an object)",
  ],
];

Deno.test("wrong input is refused with a TypeError naming the field path, not coerced", () => {
  for (const [what, input, message] of WRONG) {
    assert.throws(
      () => all.encode(input as Record<string, unknown>),
      (e: unknown) => {
        assert.ok(e instanceof TypeError, what);
        assert.ok(e.message.startsWith(message), `${what}: ${e.message}`);
        return true;
      },
      what,
    );
  }
});

Deno.test("a message that is not an object is refused naming its type", () => {
  for (const input of ["text", 5, [], new Uint8Array(1)]) {
    assert.throws(() => all.encode(input as unknown as Record<string, unknown>), {
      name: "TypeError",
      message: /^expected fidelity\.All as a plain object, got /,
    });
  }
});

Deno.test("the check leaves the caller's object untouched when it converts values", () => {
  const input = { singular: { vEnum: "BLUE", vInt64: 5n }, repeated: { rEnum: ["GREEN"] } };
  const copy = structuredClone(input);
  const out = messageCheck(root.lookupType("fidelity.All"))(input) as typeof input;
  assert.deepEqual(input, copy);
  assert.deepEqual(out, { singular: { vEnum: 2, vInt64: "5" }, repeated: { rEnum: [1] } });
});

Deno.test("the check returns the same object when nothing needs converting", () => {
  const input = { singular: { vString: "a", vInt32: 1, vBytes: new Uint8Array(2) } };
  assert.equal(messageCheck(root.lookupType("fidelity.All"))(input), input);
});

Deno.test("an unknown field whose value is undefined is ignored, as an absent field", () => {
  assert.equal(all.encode({ notAField: undefined }).length, 0);
});
