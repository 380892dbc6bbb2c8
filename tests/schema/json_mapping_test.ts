import assert from "node:assert/strict";
import { parseProto } from "../../src/schema/load_proto.ts";
import { fromProtoJson, toProtoJson } from "../../src/schema/json_mapping.ts";
import { typeCodec } from "../../src/schema/type_codec.ts";

const root = parseProto(`syntax = "proto3"; package j;
  message Inner { bytes raw = 1; }
  message M {
    int64 big_num = 1; bytes blob = 2; double ratio = 3; int32 small = 4;
    Inner inner = 5; repeated Inner list = 6; map<string, bytes> files = 7;
    enum E { A = 0; B = 1; } E e = 8;
  }`);
const M = root.lookupType("j.M");

Deno.test("fromProtoJson takes .proto or lowerCamel names, base64 bytes, numeric strings and NaN", () => {
  const msg = fromProtoJson(M, {
    big_num: "-9223372036854775808",
    blob: "3q2-7w", // URL-safe, unpadded
    ratio: "-Infinity",
    small: "-12",
    inner: { raw: "AQ==" },
    list: [{ raw: "" }],
    files: { a: "/w==" },
    e: "B",
  });
  const codec = typeCodec(M);
  const back = codec.decode(codec.encode(msg));
  assert.equal(back.bigNum, "-9223372036854775808");
  assert.deepEqual(back.blob, new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
  assert.equal(back.ratio, -Infinity);
  assert.equal(back.small, -12);
  assert.deepEqual(back.files, { a: new Uint8Array([0xff]) });
  assert.equal(back.e, "B");
  assert.deepEqual(fromProtoJson(M, { bigNum: 5 }), { bigNum: 5 });
});

Deno.test("fromProtoJson names the field path of what it refuses", () => {
  assert.throws(() => fromProtoJson(M, { nope: 1 }), /^TypeError: nope: j\.M has no field "nope"$/);
  assert.throws(() => fromProtoJson(M, { inner: { raw: "%%%" } }), /inner\.raw: expected base64/);
  assert.throws(() => fromProtoJson(M, { list: {} }), /list: expected a JSON array/);
  assert.throws(() => fromProtoJson(M, []), /expected a JSON object for j\.M, got an array/);
});

Deno.test("toProtoJson prints bytes as base64, non-finite floats as strings, no absent messages", () => {
  const codec = typeCodec(M);
  const decoded = codec.decode(
    codec.encode({ bigNum: "7", blob: new Uint8Array([1]), ratio: NaN }),
  );
  assert.deepEqual(JSON.parse(JSON.stringify(toProtoJson(decoded, M))), {
    bigNum: "7",
    blob: "AQ==",
    ratio: "NaN",
    small: 0,
    list: [],
    files: {},
    e: "A",
  });
  assert.deepEqual(Object.keys(toProtoJson(decoded, M) as object).slice(0, 3), [
    "bigNum",
    "blob",
    "ratio",
  ]);
});
