import assert from "node:assert/strict";
import { parseProto } from "../../src/schema/load_proto.ts";
import {
  decodeFileDescriptors,
  fileDescriptors,
  rootFromFileDescriptors,
} from "../../src/schema/file_descriptors.ts";
import { typeCodec } from "../../src/schema/type_codec.ts";

const TEXT = `syntax = "proto3"; package demo.v1;
  message Outer {
    message Inner { int64 id = 1; }
    enum Mood { CALM = 0; GLAD = 1; }
    Inner inner = 1;
    map<string, Inner> byName = 2;
    map<int64, Mood> moods = 3;
    oneof pick { string word = 4; int32 num = 5; }
    repeated bytes blobs = 6;
  }
  message Unused { string x = 1; }
  service S { rpc Do(Outer) returns (Outer.Inner); }`;

Deno.test("file descriptors name types fully, list map entries as XEntry and leave unused types out", () => {
  const root = parseProto(TEXT, "demo.proto");
  const [file] = decodeFileDescriptors(fileDescriptors(root.lookupService("demo.v1.S")));
  assert.equal(file.name, "demo.proto");
  assert.equal(file.package, "demo.v1");
  assert.equal(file.syntax, "proto3");
  assert.deepEqual(file.messageType.map((m: { name: string }) => m.name), ["Outer"]);
  const outer = file.messageType[0];
  const field = (name: string) => outer.field.find((f: { name: string }) => f.name === name);
  assert.equal(field("inner").typeName, ".demo.v1.Outer.Inner");
  assert.equal(field("byName").typeName, ".demo.v1.Outer.ByNameEntry");
  const entry = outer.nestedType.find((n: { name: string }) => n.name === "ByNameEntry");
  assert.equal(entry.options.mapEntry, true);
  assert.equal(entry.field[1].typeName, ".demo.v1.Outer.Inner");
  assert.equal(file.service[0].method[0].outputType, ".demo.v1.Outer.Inner");
});

Deno.test("a root rebuilt from descriptors encodes exactly as the original", () => {
  const root = parseProto(TEXT, "demo.proto");
  const copy = rootFromFileDescriptors(fileDescriptors(root.lookupService("demo.v1.S")));
  const msg = {
    inner: { id: "-7" },
    byName: { a: { id: "1" } },
    moods: { "9007199254740993": "GLAD" },
    word: "w",
    blobs: [new Uint8Array([1, 2])],
  };
  const a = typeCodec(root.lookupType("demo.v1.Outer")).encode(msg);
  const b = typeCodec(copy.lookupType("demo.v1.Outer")).encode(msg);
  assert.deepEqual(b, a);
  const back = typeCodec(copy.lookupType("demo.v1.Outer")).decode(a);
  assert.deepEqual(back.moods, { "9007199254740993": "GLAD" });
  assert.equal(copy.lookupType("demo.v1.Outer").fields["moods"]!.map, true);
});

Deno.test("rootFromFileDescriptors refuses bytes that are not descriptors with a TypeError", () => {
  assert.throws(
    () => rootFromFileDescriptors([new Uint8Array([0xff, 0xff, 0xff])]),
    (e) => e instanceof TypeError && /file descriptors/.test(e.message),
  );
});
