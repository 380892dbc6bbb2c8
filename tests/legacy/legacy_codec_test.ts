import assert from "node:assert/strict";
import { loadProto } from "../../src/schema/load_proto.ts";
import { describeService } from "../../src/schema/method_descriptor.ts";
import {
  decodeLegacyHeader,
  encodeLegacyHeader,
  encodeLegacyRequest,
  LegacyError,
  LegacyRequestDecoder,
  LegacyRequestEncoder,
  shortServiceName,
} from "../../src/legacy/legacy_codec.ts";
import { MAGIC } from "../../src/wire/frame.ts";
import {
  hex,
  LOGIN_REPLY,
  LOGIN_REQUEST,
  REGISTER_REPLY,
  REGISTER_REQUEST,
} from "../_fixtures/legacy_vectors.ts";

import { decodeBounded } from "../_helpers/bounded_decode.ts";

const te = new TextEncoder();

const user = await loadProto(new URL("../../examples/user/user.proto", import.meta.url));
const [login, register] = describeService(user.lookupService("fixbug.UserServiceRpc"));
const headerRoot = await loadProto(new URL("../../proto/mprpc_header.proto", import.meta.url));
const RpcHeader = headerRoot.lookupType("mprpc.RpcHeader");

Deno.test("a Login request encodes to exactly the original's bytes", () => {
  const args = login!.request.encode({ name: te.encode("alice"), pwd: te.encode("s3cret") });
  const bytes = new LegacyRequestEncoder(shortServiceName(login!.service), login!.name).encode(
    args,
  );
  assert.deepEqual(bytes, LOGIN_REQUEST);
});

Deno.test("a Register request encodes to exactly the original's bytes", () => {
  const args = register!.request.encode({
    id: 2001,
    name: te.encode("Kejiang"),
    pwd: te.encode("666666"),
  });
  assert.deepEqual(encodeLegacyRequest("UserServiceRpc", "Register", args), REGISTER_REQUEST);
});

/** protobufjs hands out Buffers for bytes; compare them as plain Uint8Arrays. */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

Deno.test("the original's replies decode as the response types", () => {
  assert.deepEqual(plain(login!.response.decode(LOGIN_REPLY)), {
    result: { errcode: 0, errmsg: new Uint8Array() },
    success: false,
  });
  assert.deepEqual(plain(register!.response.decode(REGISTER_REPLY)), {
    result: { errcode: 0, errmsg: new Uint8Array() },
    success: true,
  });
});

Deno.test("the decoder reads the original's requests, whole and one byte at a time", () => {
  for (const split of [false, true]) {
    const d = new LegacyRequestDecoder({ maxMessageBytes: 1024 });
    let req;
    if (split) { for (const b of REGISTER_REQUEST) req ??= d.push(new Uint8Array([b])); }
    else req = d.push(REGISTER_REQUEST);
    assert.ok(req, `split=${split}`);
    assert.equal(req.serviceName, "UserServiceRpc");
    assert.equal(req.methodName, "Register");
    assert.deepEqual(plain(register!.request.decode(req.args)), {
      id: 2001,
      name: te.encode("Kejiang"),
      pwd: te.encode("666666"),
    });
    assert.equal(d.buffered, 0);
  }
});

Deno.test("the decoder returns nothing until the last byte and ignores bytes after it", () => {
  const d = new LegacyRequestDecoder({ maxMessageBytes: 1024 });
  assert.equal(d.push(LOGIN_REQUEST.subarray(0, LOGIN_REQUEST.length - 1)), undefined);
  assert.equal(d.buffered, LOGIN_REQUEST.length - 1);
  const tail = new Uint8Array([LOGIN_REQUEST.at(-1)!, 1, 2, 3]);
  const req = d.push(tail);
  assert.equal(req?.methodName, "Login");
  assert.equal(d.push(new Uint8Array(5)), undefined);
  assert.equal(d.trailing, 8);
});

Deno.test("a request without args has no args_size field and decodes with empty args", () => {
  const bytes = encodeLegacyRequest("S", "M", new Uint8Array());
  assert.deepEqual(bytes, hex("06000000 0a0153 12014d"));
  const req = new LegacyRequestDecoder({ maxMessageBytes: 1 }).push(bytes);
  assert.deepEqual(req, { serviceName: "S", methodName: "M", args: new Uint8Array() });
});

Deno.test("the hand-written header codec agrees with protobufjs on mprpc_header.proto", () => {
  const cases = [
    { serviceName: "UserServiceRpc", methodName: "Login", argsSize: 15 },
    { serviceName: "FriendServiceRpc", methodName: "GetFriendsList", argsSize: 0 },
    { serviceName: "服务", methodName: "Méthode", argsSize: 2 ** 32 - 1 },
    { serviceName: "x".repeat(200), methodName: "y", argsSize: 128 },
  ];
  for (const h of cases) {
    const ours = encodeLegacyHeader(h);
    const theirs = new Uint8Array(
      RpcHeader.encode(RpcHeader.fromObject({
        serviceName: te.encode(h.serviceName),
        methodName: te.encode(h.methodName),
        // protobufjs writes an explicitly set 0; protobuf C++ (and we) leave it out.
        ...(h.argsSize ? { argsSize: h.argsSize } : {}),
      })).finish(),
    );
    assert.deepEqual(ours, theirs, h.serviceName);
    assert.deepEqual(decodeLegacyHeader(theirs), h);
  }
});

Deno.test("header decoding follows protobuf: unknown fields skipped, last value wins", () => {
  const h = RpcHeader.encode(RpcHeader.fromObject({
    serviceName: te.encode("Old"),
    methodName: te.encode("M"),
  })).finish();
  const extra = hex(
    "2005" + // field 4 varint
      "2d01020304" + // field 5 fixed32
      "310102030405060708" + // field 6 fixed64
      "3a03616263" + // field 7 bytes
      "0a034e6577" + // field 1 again: "New"
      "18ffffffff0f", // args_size 2^32-1
  );
  const both = new Uint8Array(h.length + extra.length);
  both.set(h);
  both.set(extra, h.length);
  assert.deepEqual(decodeLegacyHeader(both), {
    serviceName: "New",
    methodName: "M",
    argsSize: 2 ** 32 - 1,
  });
});

function rejects(bytes: Uint8Array, reason: string, pattern: RegExp, max = 1024) {
  const d = new LegacyRequestDecoder({ maxMessageBytes: max });
  assert.throws(
    () => d.push(bytes),
    (e: unknown) => e instanceof LegacyError && e.reason === reason && pattern.test(e.message),
  );
}

Deno.test("malformed requests are rejected with a reason saying what was wrong", () => {
  rejects(hex("00000000"), "BAD_HEADER_SIZE", /header size 0 is out of range 1\.\.16384/);
  rejects(hex("ffffffff"), "BAD_HEADER_SIZE", /header size 4294967295/);
  rejects(hex("01400000"), "BAD_HEADER_SIZE", /16385/); // one over the 16 KiB limit
  rejects(hex("04000000 ffffffff"), "BAD_HEADER", /truncated varint/);
  rejects(hex("03000000 0a0541"), "BAD_HEADER", /field 1 of 5 bytes overruns the 1 bytes left/);
  rejects(hex("02000000 0b00"), "BAD_HEADER", /wire type 3/);
  rejects(hex("02000000 1801"), "BAD_HEADER", /header names no service/);
  rejects(hex("03000000 0a0141"), "BAD_HEADER", /header names no method/);
  rejects(hex("06000000 0a01ff 12014d"), "BAD_HEADER", /not UTF-8/);
  rejects(
    hex("08000000 0a0153 12014d 1865"),
    "TOO_LARGE",
    /args_size 101 of S\.M exceeds maxMessageBytes 100/,
    100,
  );
});

Deno.test("every length and varint of a legacy header is bounds-checked", async () => {
  const cases: Record<string, [string, RegExp]> = {
    "a name length that overflows to a negative int32": [
      "0afaffffff0f 41",
      /field 1 of 4294967290 bytes overruns the 1 bytes left in the header/,
    ],
    "a name length past the end": [
      "0a06 4142 1201 4d",
      /field 1 of 6 bytes overruns the 5 bytes left/,
    ],
    "a name length in 6 bytes": ["0a8180808080 00 41", /field 1 is a varint longer than 5 bytes/],
    "args_size over 2^32-1 (not truncated to its low 32 bits)": [
      "0a0153 12014d 18ffffffff1f",
      /args_size is over 2\^32-1 in the header/,
    ],
    "args_size in 6 bytes": [
      "0a0153 12014d 18818080808000",
      /args_size is a varint longer than 5 bytes/,
    ],
    "an 11-byte varint in an unknown field": [
      "0a0153 12014d 20 8080808080808080808000",
      /field 4 is a varint longer than 10 bytes/,
    ],
    "a tag in 6 bytes": ["8a8080808000 0153", /field tag is a varint longer than 5 bytes/],
    "a tag of field 0": ["02 00", /invalid field tag 2/],
    "an unknown length-delimited field past the end": [
      "0a0153 12014d 3a7f 61",
      /field 7 of 127 bytes overruns the 1 bytes left/,
    ],
    "a fixed64 field cut short": ["0a0153 12014d 31 0102", /truncated field 6 in the header/],
  };
  const names = Object.keys(cases);
  const outcomes = await decodeBounded("legacyHeader", names.map((n) => hex(cases[n]![0])));
  for (const [i, name] of names.entries()) {
    const o = outcomes[i]!;
    assert.equal(o.error?.name, "LegacyError", `${name}: ${JSON.stringify(o)}`);
    assert.equal(o.error.reason, "BAD_HEADER", name);
    assert.match(o.error.message, cases[name]![1], name);
  }
  // The largest args_size, in five bytes, is accepted.
  assert.equal(decodeLegacyHeader(hex("0a0153 12014d 18ffffffff0f")).argsSize, 2 ** 32 - 1);
});

Deno.test("the decoder honours a custom header limit", () => {
  const d = new LegacyRequestDecoder({ maxMessageBytes: 10, maxHeaderBytes: 5 });
  assert.throws(() => d.push(hex("06000000")), /out of range 1\.\.5/);
});

Deno.test("the native magic read as a legacy header size is far over the limit", () => {
  const magic = new Uint8Array(4);
  new DataView(magic.buffer).setUint32(0, MAGIC, false);
  rejects(magic, "BAD_HEADER_SIZE", /header size 1129337421/);
});

Deno.test("short service names drop the package", () => {
  assert.equal(shortServiceName("fixbug.UserServiceRpc"), "UserServiceRpc");
  assert.equal(shortServiceName(".a.b.C"), "C");
  assert.equal(shortServiceName("Plain"), "Plain");
});

Deno.test("encoding refuses empty names and out-of-range sizes", () => {
  assert.throws(() => new LegacyRequestEncoder("", "M"), TypeError);
  assert.throws(() => new LegacyRequestEncoder("S", ""), TypeError);
  assert.throws(() => new LegacyRequestEncoder("S", "M").header(-1), RangeError);
  assert.throws(() => new LegacyRequestEncoder("S", "M").header(2 ** 32), RangeError);
});
