import assert from "node:assert/strict";
import { OVERFLOWING_METADATA_FRAME } from "../_fixtures/hostile_vectors.ts";
import { FrameDecoder, FrameError, HEADER_SIZE, MAGIC } from "../../src/wire/frame.ts";
import { FrameWriter } from "../../src/wire/frame_writer.ts";
import { decodeBounded } from "../_helpers/bounded_decode.ts";
import { encodeRoute, Kind, type MetaFields, type RpcMeta } from "../../src/wire/meta.ts";

interface Seen {
  meta: RpcMeta;
  payload: number[];
  owned: boolean;
}

/** A decoder that records frames (payloads copied: they may alias the pushed chunk). */
function recorder(max = 1 << 20) {
  const frames: Seen[] = [];
  const decoder = new FrameDecoder(max, (meta, payload, owned) => {
    frames.push({ meta, payload: Array.from(payload), owned });
  });
  return { frames, decoder };
}

function header(bodyLen: number, metaLen: number, magic = MAGIC): Uint8Array {
  const h = new Uint8Array(HEADER_SIZE);
  const v = new DataView(h.buffer);
  v.setUint32(0, magic);
  v.setUint32(4, bodyLen);
  v.setUint32(8, metaLen);
  return h;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}

/** A stream of varied frames: empty payloads, metadata, unicode, a payload over 255 bytes. */
function sampleStream(): { stream: Uint8Array; sent: Array<[MetaFields, Uint8Array]> } {
  const sent: Array<[MetaFields, Uint8Array]> = [
    [{ kind: Kind.REQUEST, callId: 1, route: encodeRoute("kitchen.Kitchen", "Echo") }, bytes(5, 1)],
    [{ kind: Kind.PING, callId: 0 }, new Uint8Array(0)],
    [
      { kind: Kind.RESPONSE, callId: 2, status: 5, errorMessage: "nicht gefunden ✗" },
      new Uint8Array(0),
    ],
    [{
      kind: Kind.REQUEST,
      callId: 300,
      timeoutMs: 1500,
      metadata: { user: "zhang san", "键": "值" },
    }, bytes(300, 2)],
    [{ kind: Kind.RESPONSE, callId: 0xffffffff }, bytes(1, 3)],
    [{ kind: Kind.GOAWAY, callId: 0 }, bytes(17, 4)],
  ];
  const w = new FrameWriter();
  for (const [f, p] of sent) w.writeFrame(f, p);
  return { stream: w.take().slice(), sent };
}

function summary(frames: Seen[]) {
  return frames.map((f) => ({ meta: f.meta, payload: f.payload }));
}

Deno.test("FrameDecoder yields the same frames whether the stream comes whole, split at any offset, or byte by byte", () => {
  const { stream, sent } = sampleStream();
  const whole = recorder();
  whole.decoder.push(stream);
  assert.equal(whole.frames.length, sent.length);
  assert.deepEqual(whole.frames.map((f) => f.meta.callId), [1, 0, 2, 300, 0xffffffff, 0]);
  assert.deepEqual(whole.frames[3]!.meta.metadata, { user: "zhang san", "键": "值" });
  assert.equal(whole.frames[2]!.meta.errorMessage, "nicht gefunden ✗");
  assert.deepEqual(whole.frames.map((f) => f.payload), sent.map(([, p]) => Array.from(p)));
  const expected = summary(whole.frames);

  for (let cut = 0; cut <= stream.length; cut++) {
    const r = recorder();
    r.decoder.push(stream.subarray(0, cut));
    r.decoder.push(stream.subarray(cut));
    assert.deepEqual(summary(r.frames), expected, `split at ${cut}`);
    assert.equal(r.decoder.buffered, 0, `nothing left over after split at ${cut}`);
  }

  const single = recorder();
  for (let i = 0; i < stream.length; i++) single.decoder.push(stream.subarray(i, i + 1));
  assert.deepEqual(summary(single.frames), expected);
  assert.equal(single.decoder.buffered, 0);
});

Deno.test("FrameDecoder splits a stream cut into three pieces at every pair of offsets", () => {
  const w = new FrameWriter();
  w.writeFrame({ kind: Kind.REQUEST, callId: 7, metadata: { a: "b" } }, bytes(9, 9));
  w.writeFrame({ kind: Kind.CANCEL, callId: 7 });
  w.writeFrame({ kind: Kind.RESPONSE, callId: 8 }, bytes(3, 1));
  const stream = w.take().slice();
  const whole = recorder();
  whole.decoder.push(stream);
  const expected = summary(whole.frames);
  assert.equal(expected.length, 3);
  for (let a = 0; a <= stream.length; a++) {
    for (let b = a; b <= stream.length; b++) {
      const r = recorder();
      r.decoder.push(stream.subarray(0, a));
      r.decoder.push(stream.subarray(a, b));
      r.decoder.push(stream.subarray(b));
      assert.deepEqual(summary(r.frames), expected, `cuts at ${a} and ${b}`);
    }
  }
});

Deno.test("FrameDecoder delivers many frames from one chunk in order, as views of the chunk", () => {
  const w = new FrameWriter();
  for (let i = 1; i <= 500; i++) w.writeFrame({ kind: Kind.RESPONSE, callId: i }, bytes(i % 7, i));
  const stream = w.take();
  const r = recorder();
  r.decoder.push(stream);
  assert.equal(r.frames.length, 500);
  for (let i = 1; i <= 500; i++) {
    const f = r.frames[i - 1]!;
    assert.equal(f.meta.callId, i);
    assert.deepEqual(f.payload, Array.from(bytes(i % 7, i)));
    assert.equal(f.owned, false, "a frame wholly inside the chunk is not copied");
  }
});

Deno.test("FrameDecoder copies a frame that spans chunks into a buffer it owns", () => {
  const w = new FrameWriter();
  w.writeFrame({ kind: Kind.RESPONSE, callId: 1 }, bytes(100, 1));
  const stream = w.take().slice();
  const r = recorder();
  r.decoder.push(stream.subarray(0, 50));
  assert.equal(r.decoder.buffered, 50 - HEADER_SIZE);
  r.decoder.push(stream.subarray(50));
  assert.equal(r.frames.length, 1);
  assert.equal(r.frames[0]!.owned, true);
  assert.deepEqual(r.frames[0]!.payload, Array.from(bytes(100, 1)));
});

Deno.test("FrameDecoder refuses a body over maxMessageBytes from its 12-byte header, before buffering any body", () => {
  const seen: number[] = [];
  const d = new FrameDecoder(1024, (m) => seen.push(m.callId));
  const h = header(1025, 0);
  for (let i = 0; i < HEADER_SIZE - 1; i++) {
    d.push(h.subarray(i, i + 1));
    assert.equal(d.buffered, i + 1);
  }
  assert.throws(() => d.push(h.subarray(HEADER_SIZE - 1)), (e: unknown) => {
    assert.ok(e instanceof FrameError);
    assert.equal(e.reason, "TOO_LARGE");
    assert.match(e.message, /1025 bytes exceeds maxMessageBytes 1024/);
    return true;
  });
  assert.ok(d.buffered <= HEADER_SIZE, `buffered ${d.buffered}`);
  assert.deepEqual(seen, []);

  // The same header arriving in one chunk with a body behind it.
  const d2 = new FrameDecoder(1024, () => assert.fail("no frame expected"));
  assert.throws(
    () => d2.push(concat(header(1 << 30, 0), new Uint8Array(100))),
    (e: unknown) => e instanceof FrameError && e.reason === "TOO_LARGE",
  );
  assert.ok(d2.buffered <= HEADER_SIZE, `buffered ${d2.buffered}`);
});

Deno.test("FrameDecoder accepts a body of exactly maxMessageBytes", () => {
  const w = new FrameWriter();
  w.writeFrame({ kind: Kind.RESPONSE, callId: 1 }, bytes(100 - 4, 1));
  const stream = w.take().slice();
  const bodyLen = new DataView(stream.buffer).getUint32(4);
  assert.equal(bodyLen, 100);
  const r = recorder(100);
  r.decoder.push(stream);
  assert.equal(r.frames.length, 1);
});

Deno.test("FrameDecoder rejects a stream that does not start with the magic", () => {
  for (
    const chunk of [new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"), header(1, 0, 0x4d525044)]
  ) {
    const d = new FrameDecoder(1024, () => assert.fail("no frame expected"));
    assert.throws(() => d.push(chunk), (e: unknown) => {
      assert.ok(e instanceof FrameError);
      assert.equal(e.reason, "BAD_MAGIC");
      assert.match(e.message, /bad frame magic 0x[0-9a-f]{8}/);
      return true;
    });
  }
});

Deno.test("FrameDecoder rejects bad magic in a later frame, after delivering the good ones", () => {
  const w = new FrameWriter();
  w.writeFrame({ kind: Kind.PING, callId: 5 });
  const good = w.take().slice();
  const r = recorder();
  assert.throws(
    () => r.decoder.push(concat(good, header(0, 0, 0xdeadbeef))),
    (e: unknown) =>
      e instanceof FrameError && e.reason === "BAD_MAGIC" && /0xdeadbeef/.test(e.message),
  );
  assert.deepEqual(r.frames.map((f) => f.meta.callId), [5]);
});

Deno.test("FrameDecoder rejects a meta length over the body length", () => {
  const d = new FrameDecoder(1024, () => assert.fail("no frame expected"));
  assert.throws(() => d.push(concat(header(4, 5), new Uint8Array(4))), (e: unknown) => {
    assert.ok(e instanceof FrameError);
    assert.equal(e.reason, "BAD_LENGTH");
    assert.equal(e.message, "meta length 5 exceeds body length 4");
    return true;
  });
});

Deno.test("FrameDecoder rejects corrupt meta bytes as BAD_META", () => {
  const cases: Array<[string, number[]]> = [
    ["truncated varint", [0x10, 0x80]],
    ["unsupported wire type", [0x0f, 0x00]],
    ["string overrunning the meta", [0x1a, 0x05, 0x61]],
    ["truncated fixed64", [0x49, 0x01, 0x02]],
    ["bad metadata entry", [0x42, 0x02, 0x08, 0x01]],
    ["invalid UTF-8 in a string", [0x1a, 0x02, 0xff, 0xfe]],
  ];
  for (const [what, meta] of cases) {
    const d = new FrameDecoder(1024, () => assert.fail(`no frame expected for ${what}`));
    const frame = concat(
      header(meta.length + 3, meta.length),
      new Uint8Array(meta),
      new Uint8Array(3),
    );
    assert.throws(() => d.push(frame), (e: unknown) => {
      assert.ok(e instanceof FrameError, `${what}: got ${e}`);
      assert.equal(e.reason, "BAD_META", what);
      return true;
    }, what);
  }
});

Deno.test("FrameDecoder reads lengths near 2^32 as unsigned", () => {
  const cases: Array<[number, number, string, RegExp]> = [
    [0xffffffff, 0, "TOO_LARGE", /4294967295 bytes/],
    [0x80000000, 0, "TOO_LARGE", /2147483648 bytes/],
    [0xffffffff, 0xffffffff, "TOO_LARGE", /4294967295 bytes/],
    [10, 0xffffffff, "BAD_LENGTH", /meta length 4294967295 exceeds body length 10/],
    [10, 0x80000000, "BAD_LENGTH", /meta length 2147483648/],
  ];
  for (const [bodyLen, metaLen, reason, message] of cases) {
    const d = new FrameDecoder(4 * 1024 * 1024, () => assert.fail("no frame expected"));
    assert.throws(() => d.push(header(bodyLen, metaLen)), (e: unknown) => {
      assert.ok(e instanceof FrameError);
      assert.equal(e.reason, reason);
      assert.match(e.message, message);
      return true;
    }, `body ${bodyLen} meta ${metaLen}`);
  }
  // With a limit above 2^31 the sign bit must not make a length negative either.
  const d = new FrameDecoder(2 ** 32 - 1, () => assert.fail("no frame expected"));
  assert.throws(
    () => d.push(header(0x80000000, 0x80000001)),
    (e: unknown) => e instanceof FrameError && e.reason === "BAD_LENGTH",
  );
});

Deno.test("the WINDOW_UPDATE of docs/protocol.md decodes to its call id and credit", () => {
  const bytes = new Uint8Array([
    ...[0x4d, 0x52, 0x50, 0x43, 0, 0, 0, 8, 0, 0, 0, 8],
    ...[0x08, 0x08, 0x10, 0x05, 0x68, 0x80, 0x80, 0x08],
  ]);
  const r = recorder();
  r.decoder.push(bytes);
  assert.equal(r.frames.length, 1);
  assert.equal(r.frames[0]!.meta.kind, Kind.WINDOW_UPDATE);
  assert.equal(r.frames[0]!.meta.callId, 5);
  assert.equal(r.frames[0]!.meta.credit, 131_072);
  const w = new FrameWriter();
  w.writeFrame({ kind: Kind.WINDOW_UPDATE, callId: 5, credit: 131_072 });
  assert.deepEqual(Array.from(w.take()), Array.from(bytes));
});

Deno.test("a REQUEST, RESPONSE, CANCEL or stream frame with call id 0 is a protocol error", () => {
  // An empty body is a REQUEST meta with every field at its default: call id 0.
  const metas: Array<[string, number[]]> = [
    ["empty body (REQUEST, call id 0)", []],
    ["REQUEST with call id 0 written out", [0x10, 0x00]],
    ["RESPONSE without a call id", [0x08, Kind.RESPONSE]],
    ["CANCEL without a call id", [0x08, Kind.CANCEL]],
    ["MESSAGE without a call id", [0x08, Kind.MESSAGE]],
    ["HALF_CLOSE without a call id", [0x08, Kind.HALF_CLOSE]],
    ["WINDOW_UPDATE without a call id", [0x08, Kind.WINDOW_UPDATE, 0x68, 0x01]],
  ];
  for (const [what, meta] of metas) {
    const d = new FrameDecoder(1024, () => assert.fail(`no frame expected for ${what}`));
    assert.throws(
      () => d.push(concat(header(meta.length, meta.length), new Uint8Array(meta))),
      (e: unknown) => {
        assert.ok(e instanceof FrameError, `${what}: got ${e}`);
        assert.equal(e.reason, "BAD_META", what);
        assert.match(e.message, /call id 0 in a frame of kind \d: call ids are 1\.\.4294967295/);
        return true;
      },
      what,
    );
  }
  // PING, PONG and GOAWAY may carry call id 0; 2^32-1 is the largest call id.
  const r = recorder();
  const w = new FrameWriter();
  w.writeFrame({ kind: Kind.PING, callId: 0 });
  w.writeFrame({ kind: Kind.PONG, callId: 0 });
  w.writeFrame({ kind: Kind.GOAWAY, callId: 0 });
  w.writeFrame({ kind: Kind.REQUEST, callId: 0xffffffff });
  r.decoder.push(w.take());
  assert.deepEqual(r.frames.map((f) => [f.meta.kind, f.meta.callId]), [
    [Kind.PING, 0],
    [Kind.PONG, 0],
    [Kind.GOAWAY, 0],
    [Kind.REQUEST, 0xffffffff],
  ]);
});

Deno.test("a frame whose call id is over 2^32-1 or longer than 5 bytes is a protocol error", async () => {
  const metas: Array<[string, number[]]> = [
    ["call id 2^32", [0x10, 0x80, 0x80, 0x80, 0x80, 0x10]],
    ["call id 1 in six bytes", [0x10, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00]],
  ];
  const outcomes = await decodeBounded(
    "frames",
    metas.map(([, m]) => concat(header(m.length, m.length), new Uint8Array(m))),
  );
  for (const [i, [what]] of metas.entries()) {
    assert.equal(outcomes[i]!.error?.name, "FrameError", `${what}: ${JSON.stringify(outcomes[i])}`);
    assert.equal(outcomes[i]!.error!.reason, "BAD_META", what);
    assert.match(outcomes[i]!.error!.message, /call id is/, what);
  }
});

Deno.test("the 22-byte frame whose metadata length overflows is rejected as BAD_META", async () => {
  const frame = OVERFLOWING_METADATA_FRAME;
  const whole = (await decodeBounded("frames", [frame]))[0]!;
  assert.equal(whole.error?.name, "FrameError", JSON.stringify(whole));
  assert.equal(whole.error.reason, "BAD_META");
  assert.match(whole.error.message, /metadata key of 4294967290 bytes overruns/);
});

Deno.test("FrameDecoder with onOversize reads an oversize frame's meta, skips its payload, and goes on, at every split", () => {
  const w = new FrameWriter();
  w.writeFrame({ kind: Kind.RESPONSE, callId: 1 }, bytes(10, 1));
  w.writeFrame({ kind: Kind.RESPONSE, callId: 2 }, bytes(500, 2)); // over the limit below
  w.writeFrame({ kind: Kind.RESPONSE, callId: 3 }, bytes(20, 3));
  const stream = w.take().slice();
  const run = (chunks: Uint8Array[]) => {
    const seen: string[] = [];
    const d = new FrameDecoder(
      64,
      (meta, payload) => seen.push(`frame ${meta.callId}:${payload.length}`),
      (meta, bodyLength) => seen.push(`oversize ${meta.callId}:${bodyLength}`),
    );
    for (const c of chunks) d.push(c);
    assert.equal(d.buffered, 0);
    return seen.join(", ");
  };
  const expected = "frame 1:10, oversize 2:504, frame 3:20";
  assert.equal(run([stream]), expected);
  for (let i = 1; i < stream.length; i++) {
    assert.equal(run([stream.subarray(0, i), stream.subarray(i)]), expected, `split at ${i}`);
  }
  assert.equal(run(Array.from(stream, (b) => new Uint8Array([b]))), expected);
});

Deno.test("FrameDecoder with onOversize still rejects a frame whose meta alone is over the limit", () => {
  const d = new FrameDecoder(64, () => {}, () => assert.fail("meta over the limit was read"));
  assert.throws(
    () => d.push(header(1000, 100)),
    (e: unknown) => e instanceof FrameError && e.reason === "TOO_LARGE",
  );
});

Deno.test("FrameDecoder reports an unfinished frame while it skips an oversize payload", () => {
  const d = new FrameDecoder(64, () => {}, () => {});
  const meta = new Uint8Array([0x08, Kind.RESPONSE, 0x10, 9]);
  d.push(concat(header(1000, meta.length), meta, new Uint8Array(100)));
  assert.ok(d.buffered > 0, "skipping counts as holding a frame (for the read timeout)");
  d.push(new Uint8Array(1000 - meta.length - 100));
  assert.equal(d.buffered, 0);
});

Deno.test("a decoder reusing its meta object clears every field the previous frame set", () => {
  const w = new FrameWriter();
  w.writeFrame({ kind: Kind.PONG, callId: 0, maxMessageBytes: 1234 });
  w.writeFrame({
    kind: Kind.GOAWAY,
    callId: 0,
    lastCallId: 9,
    notStarted: true,
    status: 14,
    errorMessage: "bye",
    metadata: { a: "b" },
  });
  w.writeFrame({ kind: Kind.WINDOW_UPDATE, callId: 3, credit: 100, stream: true });
  w.writeFrame({ kind: Kind.RESPONSE, callId: 4 }, new Uint8Array([1]));
  const seen: Array<{ same: boolean; copy: RpcMeta }> = [];
  let first: RpcMeta | undefined;
  const d = new FrameDecoder(
    1 << 20,
    (meta) => {
      first ??= meta;
      seen.push({ same: meta === first, copy: { ...meta } });
    },
    undefined,
    { reuseMeta: true },
  );
  d.push(w.take());
  assert.ok(seen.every((s) => s.same), "one object for every frame");
  assert.equal(seen[0]!.copy.maxMessageBytes, 1234);
  const goaway = seen[1]!.copy;
  assert.equal(goaway.maxMessageBytes, undefined);
  assert.deepEqual([goaway.lastCallId, goaway.notStarted, goaway.status], [9, true, 14]);
  assert.deepEqual(goaway.metadata, { a: "b" });
  const update = seen[2]!.copy;
  assert.deepEqual(
    [update.lastCallId, update.notStarted, update.status, update.errorMessage, update.metadata],
    [undefined, undefined, 0, "", undefined],
  );
  assert.deepEqual([update.credit, update.stream], [100, true]);
  const response = seen[3]!.copy;
  assert.deepEqual([response.kind, response.callId, response.credit, response.stream], [
    Kind.RESPONSE,
    4,
    undefined,
    undefined,
  ]);
});
