import assert from "node:assert/strict";
import { loadProto } from "../../src/schema/load_proto.ts";
import {
  decodeMeta,
  encodeMeta,
  encodeRoute,
  Kind,
  MetaError,
  type MetaFields,
  type RpcMeta,
} from "../../src/wire/meta.ts";
import { varintSize, writeVarint } from "../../src/wire/wire_writer.ts";

import { decodeBounded } from "../_helpers/bounded_decode.ts";

const root = await loadProto(new URL("../../proto/rpc_meta.proto", import.meta.url));
const RpcMetaType = root.lookupType("mprpc.RpcMeta");

/** What protobufjs decodes from `bytes`, as a plain object with every field. */
function pbDecode(bytes: Uint8Array) {
  return RpcMetaType.toObject(RpcMetaType.decode(bytes), {
    longs: Number,
    enums: Number,
    defaults: true,
  });
}

/** What protobufjs encodes from a plain object with proto field names in camelCase. */
function pbEncode(obj: Record<string, unknown>): Uint8Array {
  const err = RpcMetaType.verify(obj);
  assert.equal(err, null, `protobufjs verify: ${err}`);
  return RpcMetaType.encode(RpcMetaType.fromObject(obj)).finish();
}

interface Sample extends RpcMeta {
  name: string;
}

const LONG_UNICODE = "服务端错误：用户不存在，请检查输入参数 — ошибка 🚀🚀 " + "ü".repeat(40);

const samples: Sample[] = [
  {
    name: "all defaults",
    kind: 0,
    callId: 0,
    service: "",
    method: "",
    timeoutMs: 0,
    status: 0,
    errorMessage: "",
    metadata: undefined,
  },
  {
    name: "plain request",
    kind: Kind.REQUEST,
    callId: 1,
    service: "fixbug.UserServiceRpc",
    method: "Login",
    timeoutMs: 30000,
    status: 0,
    errorMessage: "",
    metadata: undefined,
  },
  {
    name: "largest call id and timeout",
    kind: Kind.REQUEST,
    callId: 2 ** 32 - 1,
    service: "a.B",
    method: "C",
    timeoutMs: 2 ** 32 - 1,
    status: 0,
    errorMessage: "",
    metadata: undefined,
  },
  {
    name: "call id 2^31 (sign bit)",
    kind: Kind.RESPONSE,
    callId: 2 ** 31,
    service: "",
    method: "",
    timeoutMs: 0,
    status: 0,
    errorMessage: "",
    metadata: undefined,
  },
  {
    name: "varint boundaries",
    kind: Kind.CANCEL,
    callId: 128,
    service: "",
    method: "",
    timeoutMs: 16384,
    status: 0,
    errorMessage: "",
    metadata: undefined,
  },
  {
    name: "error response with trailers",
    kind: Kind.RESPONSE,
    callId: 0x0fffffff,
    service: "",
    method: "",
    timeoutMs: 0,
    status: 5,
    errorMessage: "no such user: 42",
    metadata: { where: "db", retry: "no" },
  },
  {
    name: "unicode everywhere",
    kind: Kind.REQUEST,
    callId: 99,
    service: "服务.Svc",
    method: "Méthode",
    timeoutMs: 5,
    status: 0,
    errorMessage: "",
    metadata: { "ключ": "値🎉", "emoji🙂": "", "": "empty key" },
  },
  {
    name: "long unicode error (past the ASCII fast path)",
    kind: Kind.RESPONSE,
    callId: 12,
    service: "",
    method: "",
    timeoutMs: 0,
    status: 13,
    errorMessage: LONG_UNICODE,
    metadata: { long: LONG_UNICODE },
  },
  {
    name: "many metadata entries",
    kind: Kind.REQUEST,
    callId: 3,
    service: "s",
    method: "m",
    timeoutMs: 0,
    status: 0,
    errorMessage: "",
    metadata: Object.fromEntries(
      Array.from({ length: 50 }, (_, i) => [`key-${i}`, "v".repeat(i * 7)]),
    ),
  },
  {
    name: "ping",
    kind: Kind.PING,
    callId: 0,
    service: "",
    method: "",
    timeoutMs: 0,
    status: 0,
    errorMessage: "",
    metadata: undefined,
  },
  {
    name: "pong",
    kind: Kind.PONG,
    callId: 77,
    service: "",
    method: "",
    timeoutMs: 0,
    status: 0,
    errorMessage: "",
    metadata: undefined,
  },
  {
    name: "goaway with status",
    kind: Kind.GOAWAY,
    callId: 0,
    service: "",
    method: "",
    timeoutMs: 0,
    status: 14,
    errorMessage: "provider is shutting down",
    metadata: undefined,
  },
];

function ours(s: Sample): Uint8Array {
  const f: MetaFields = {
    kind: s.kind,
    callId: s.callId,
    route: s.service || s.method ? encodeRoute(s.service, s.method) : undefined,
    timeoutMs: s.timeoutMs,
    status: s.status,
    errorMessage: s.errorMessage,
    metadata: s.metadata,
  };
  return encodeMeta(f);
}

function expectedMeta(s: Sample): RpcMeta {
  const { name: _, ...meta } = s;
  return meta;
}

Deno.test("meta encoded by hand decodes with protobufjs to the same fields", () => {
  for (const s of samples) {
    const got = pbDecode(ours(s));
    assert.deepEqual(got, {
      kind: s.kind,
      callId: s.callId,
      service: s.service,
      method: s.method,
      timeoutMs: s.timeoutMs,
      status: s.status,
      errorMessage: s.errorMessage,
      metadata: s.metadata ?? {},
      maxMessageBytes: 0,
      lastCallId: 0,
      notStarted: false,
      stream: false,
      credit: 0,
    }, s.name);
  }
});

Deno.test("meta encoded by protobufjs decodes by hand to the same fields", () => {
  for (const s of samples) {
    const bytes = pbEncode({
      kind: s.kind,
      callId: s.callId,
      service: s.service,
      method: s.method,
      timeoutMs: s.timeoutMs,
      status: s.status,
      errorMessage: s.errorMessage,
      metadata: s.metadata ?? {},
    });
    const got = decodeMeta(bytes);
    assert.deepEqual(
      { ...got, metadata: got.metadata ?? {} },
      { ...expectedMeta(s), metadata: s.metadata ?? {} },
      s.name,
    );
  }
});

Deno.test("meta encoded by hand is byte for byte what protobufjs writes (proto3 defaults omitted)", () => {
  for (const s of samples) {
    // protobufjs writes a field that is explicitly set even to its default; proto3 leaves
    // defaults out, as the hand-written encoder does, so only non-default fields are set here.
    const { name: _, ...fields } = s;
    const set = Object.fromEntries(
      Object.entries(fields).filter(([, v]) => v !== 0 && v !== "" && v !== undefined),
    );
    const pb = pbEncode(set);
    assert.deepEqual(Array.from(ours(s)), Array.from(pb), s.name);
  }
});

Deno.test("the stream fields (stream, credit) agree with protobufjs both ways", () => {
  const open = encodeMeta({ kind: Kind.REQUEST, callId: 3, stream: true });
  const grant = encodeMeta({ kind: Kind.WINDOW_UPDATE, callId: 3, credit: 262_144 });
  assert.deepEqual(Array.from(open), Array.from(pbEncode({ callId: 3, stream: true })));
  assert.deepEqual(
    Array.from(grant),
    Array.from(pbEncode({ kind: Kind.WINDOW_UPDATE, callId: 3, credit: 262_144 })),
  );
  assert.equal(pbDecode(open).stream, true);
  assert.equal(pbDecode(grant).credit, 262_144);
  assert.equal(decodeMeta(open).stream, true);
  assert.equal(decodeMeta(grant).credit, 262_144);
  assert.equal(decodeMeta(encodeMeta({ kind: Kind.MESSAGE, callId: 9 })).kind, Kind.MESSAGE);
});

Deno.test("meta round-trips through the hand-written codec alone", () => {
  for (const s of samples) assert.deepEqual(decodeMeta(ours(s)), expectedMeta(s), s.name);
});

Deno.test("decodeMeta skips fields it does not know (every wire type)", () => {
  const known = ours(samples[5]!);
  // field 15 varint, field 14 fixed64, field 13 length-delimited, field 12 fixed32
  const unknown = [
    0x78,
    0x96,
    0x01,
    0x71,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    0x6a,
    0x03,
    0x61,
    0x62,
    0x63,
    0x65,
    1,
    2,
    3,
    4,
  ];
  const mixed = new Uint8Array([...unknown.slice(0, 3), ...known, ...unknown.slice(3)]);
  assert.deepEqual(decodeMeta(mixed), expectedMeta(samples[5]!));
});

Deno.test("decodeMeta keeps the last value of a repeated scalar field, as protobuf does", () => {
  const bytes = new Uint8Array([0x10, 0x01, 0x10, 0x02]);
  assert.equal(decodeMeta(bytes).callId, 2);
  assert.equal(pbDecode(bytes).callId, 2);
});

Deno.test("decodeMeta throws MetaError on truncated or malformed input", () => {
  const cases: Array<[string, number[], RegExp]> = [
    ["truncated tag varint", [0x80], /truncated varint \(field tag\)/],
    ["truncated value varint", [0x10, 0xff, 0xff], /truncated varint \(call id\)/],
    ["varint too long", [0x10, ...new Array(11).fill(0xff), 0x01], /call id is a varint longer/],
    ["string overruns", [0x1a, 0x10, 0x61], /service of 16 bytes overruns the 1 bytes left/],
    ["unsupported wire type 3", [0x0b], /unsupported wire type 3/],
    ["truncated fixed32", [0x75, 1, 2], /truncated unknown field in RpcMeta/],
    ["metadata entry overruns", [0x42, 0x03, 0x0a, 0x05, 0x61], /metadata key of 5 bytes overruns/],
  ];
  for (const [what, bytes, message] of cases) {
    assert.throws(() => decodeMeta(new Uint8Array(bytes)), (e: unknown) => {
      assert.ok(e instanceof MetaError, `${what}: ${e}`);
      assert.match(e.message, message, what);
      return true;
    }, what);
  }
});

/** Decodes each input in a Worker (bounded: a decoder that loops fails instead of hanging). */
async function metaOutcomes(inputs: Record<string, number[]>) {
  const names = Object.keys(inputs);
  const outcomes = await decodeBounded("meta", names.map((n) => new Uint8Array(inputs[n]!)));
  return new Map(names.map((n, i) => [n, outcomes[i]!]));
}

/** Asserts every input was rejected with a MetaError matching its pattern. */
async function assertRejected(inputs: Record<string, [number[], RegExp]>): Promise<void> {
  const got = await metaOutcomes(Object.fromEntries(
    Object.entries(inputs).map(([k, [bytes]]) => [k, bytes]),
  ));
  for (const [what, [, pattern]] of Object.entries(inputs)) {
    const o = got.get(what)!;
    assert.equal(o.error?.name, "MetaError", `${what}: ${JSON.stringify(o)}`);
    assert.match(o.error.message, pattern, what);
  }
}

Deno.test("a metadata entry whose length varint overflows to a negative number is rejected, not re-read forever", async () => {
  // The meta of the 22-byte frame 4D525043 0000000A 0000000A 1009 4206 0AFAFFFFFF0F: call id 9,
  // then a metadata entry holding a key whose length varint FA FF FF FF 0F is 2^32-6 (-6 as an
  // int32, which used to send the decoder back to the start of the entry, forever).
  await assertRejected({
    "the 22-byte frame's meta": [
      [0x10, 0x09, 0x42, 0x06, 0x0a, 0xfa, 0xff, 0xff, 0xff, 0x0f],
      /metadata key of 4294967290 bytes overruns the 0 bytes left in RpcMeta/,
    ],
    "a metadata value of length 2^31": [
      [0x42, 0x08, 0x0a, 0x00, 0x12, 0x80, 0x80, 0x80, 0x80, 0x08],
      /metadata value of 2147483648 bytes overruns/,
    ],
    "a service of length 2^32-1": [
      [0x1a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x61],
      /service of 4294967295 bytes overruns the 1 bytes left/,
    ],
    "an unknown length-delimited field of length -1 as an int32": [
      [0x72, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x61],
      /unknown field of 4294967295 bytes overruns/,
    ],
  });
});

Deno.test("a varint longer than 10 bytes is rejected, in known and unknown fields alike", async () => {
  const eleven = [...new Array(10).fill(0x80), 0x00];
  await assertRejected({
    "unknown varint field": [[0x70, ...eleven], /unknown field is a varint longer than 10 bytes/],
    "tag": [[...new Array(10).fill(0x88), 0x00], /field tag is a varint longer than 5 bytes/],
    "unknown field in a metadata entry": [
      [0x42, 0x0c, 0x18, ...eleven],
      /unknown field of a metadata entry is a varint longer than 10 bytes/,
    ],
  });
  // Ten bytes (a 64-bit value) in an unknown field are fine and skipped.
  const ten = [...new Array(9).fill(0xff), 0x01];
  assert.deepEqual(decodeMeta(new Uint8Array([0x70, ...ten, 0x10, 0x07])).callId, 7);
});

Deno.test("a 32-bit field longer than 5 bytes or over 2^32-1 is rejected", async () => {
  await assertRejected({
    "call id in 6 bytes (value 0)": [
      [0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
      /call id is a varint longer than 5 bytes/,
    ],
    "call id in 6 bytes (value 1)": [
      [0x10, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00],
      /call id is a varint longer than 5 bytes/,
    ],
    "call id 2^32": [[0x10, 0x80, 0x80, 0x80, 0x80, 0x10], /call id is over 2\^32-1/],
    "call id 2^35-1": [[0x10, 0xff, 0xff, 0xff, 0xff, 0x7f], /call id is over 2\^32-1/],
    "kind as a 10-byte negative enum": [
      [0x08, ...new Array(9).fill(0xff), 0x01],
      /kind is a varint longer than 5 bytes/,
    ],
    "timeout 2^32": [[0x28, 0x80, 0x80, 0x80, 0x80, 0x10], /timeout is over 2\^32-1/],
    "status in 6 bytes": [[0x30, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], /status is a varint longer/],
    "length in 6 bytes": [
      [0x1a, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00, 0x61],
      /service is a varint longer/,
    ],
    "field number 0": [[0x02, 0x00], /field number 0/],
  });
  // 2^32-1 in five bytes is the largest 32-bit value and is accepted.
  assert.equal(
    decodeMeta(new Uint8Array([0x10, 0xff, 0xff, 0xff, 0xff, 0x0f])).callId,
    2 ** 32 - 1,
  );
});

Deno.test("a truncated metadata map entry is rejected", async () => {
  await assertRejected({
    "entry cut inside the key": [
      [0x42, 0x05, 0x0a, 0x03, 0x61],
      /metadata entry of 5 bytes overruns the 3 bytes left/,
    ],
    "entry cut inside the key's length varint": [
      [0x42, 0x02, 0x0a, 0x80],
      /truncated varint \(metadata key\)/,
    ],
    "entry cut inside a tag": [[0x42, 0x01, 0x8a], /truncated varint \(metadata entry tag\)/],
    "entry length missing": [[0x42], /truncated varint \(metadata entry\)/],
    "key with a varint wire type": [
      [0x42, 0x02, 0x08, 0x01],
      /bad metadata entry \(field 1, wire type 0\)/,
    ],
  });
});

Deno.test("a nested length that lies is rejected, even when it stays within the meta", async () => {
  await assertRejected({
    // The key claims 4 bytes; the entry has 1 left, though the meta has 4 (the next field).
    "key longer than its entry": [
      [0x42, 0x03, 0x0a, 0x04, 0x61, 0x1a, 0x01, 0x62],
      /metadata key of 4 bytes overruns the 1 bytes left/,
    ],
    "value longer than its entry": [
      [0x42, 0x05, 0x0a, 0x00, 0x12, 0x05, 0x61, 0x10, 0x01],
      /metadata value of 5 bytes overruns the 1 bytes left/,
    ],
    "unknown field longer than its entry": [
      [0x42, 0x03, 0x1a, 0x06, 0x61, 0x10, 0x01, 0x10, 0x01],
      /unknown field of a metadata entry of 6 bytes overruns the 1 bytes left/,
    ],
    "fixed64 crossing the entry's end": [
      [0x42, 0x03, 0x19, 0x01, 0x02, 0x10, 0x01, 0x10, 0x01, 0x10, 0x01],
      /truncated unknown field of a metadata entry/,
    ],
  });
  // An entry is read in full and the fields after it still decode.
  const ok = decodeMeta(
    new Uint8Array([0x42, 0x06, 0x0a, 0x01, 0x6b, 0x12, 0x01, 0x76, 0x10, 0x05]),
  );
  assert.deepEqual([ok.metadata, ok.callId], [{ k: "v" }, 5]);
});

Deno.test("writeVarint and varintSize agree on every size class up to 2^32-1", () => {
  const values = [
    0,
    1,
    127,
    128,
    16383,
    16384,
    2 ** 21 - 1,
    2 ** 21,
    2 ** 28 - 1,
    2 ** 28,
    2 ** 31,
    2 ** 32 - 1,
  ];
  for (const v of values) {
    const buf = new Uint8Array(10);
    const end = writeVarint(buf, 0, v);
    assert.equal(end, varintSize(v), `size of ${v}`);
    const meta = decodeMeta(new Uint8Array([0x10, ...buf.subarray(0, end)]));
    assert.equal(meta.callId, v);
  }
});

Deno.test("the handshake limit, GOAWAY's last call id and the not-started mark agree with protobufjs", () => {
  const cases: MetaFields[] = [
    { kind: Kind.PING, callId: 0, maxMessageBytes: 4 * 1024 * 1024 },
    { kind: Kind.PONG, callId: 0, maxMessageBytes: 0xffffffff },
    { kind: Kind.GOAWAY, callId: 0, lastCallId: 0xfffffff0, notStarted: true },
    { kind: Kind.GOAWAY, callId: 0, lastCallId: 0, notStarted: true },
    { kind: Kind.RESPONSE, callId: 9, status: 14, errorMessage: "going away", notStarted: true },
  ];
  for (const f of cases) {
    const ours = encodeMeta(f);
    const pb = pbEncode(
      Object.fromEntries(Object.entries(f).filter(([, v]) => v !== 0 && v !== undefined)),
    );
    assert.deepEqual(Array.from(ours), Array.from(pb), JSON.stringify(f));
    const back = decodeMeta(ours);
    assert.equal(back.maxMessageBytes, f.maxMessageBytes || undefined);
    assert.equal(back.lastCallId, f.lastCallId || undefined);
    assert.equal(back.notStarted, f.notStarted);
    const decoded = pbDecode(ours);
    assert.equal(decoded.maxMessageBytes, f.maxMessageBytes ?? 0);
    assert.equal(decoded.lastCallId, f.lastCallId ?? 0);
    assert.equal(decoded.notStarted, f.notStarted ?? false);
  }
  // A request meta gains no fields: its decoded shape stays the same on the hot path.
  assert.deepEqual(Object.keys(decodeMeta(encodeMeta({ kind: Kind.REQUEST, callId: 1 }))), [
    "kind",
    "callId",
    "service",
    "method",
    "timeoutMs",
    "status",
    "errorMessage",
    "metadata",
  ]);
});
