import assert from "node:assert/strict";
import { FrameDecoder, HEADER_SIZE } from "../../src/wire/frame.ts";
import { FrameWriter } from "../../src/wire/frame_writer.ts";
import { Kind, type RpcMeta } from "../../src/wire/meta.ts";

function decodeAll(bytes: Uint8Array): Array<{ meta: RpcMeta; payload: number[] }> {
  const out: Array<{ meta: RpcMeta; payload: number[] }> = [];
  new FrameDecoder(1 << 30, (meta, payload) => out.push({ meta, payload: Array.from(payload) }))
    .push(bytes);
  return out;
}

Deno.test("FrameWriter coalesces every frame written before take() into one buffer, in order", () => {
  const w = new FrameWriter();
  assert.equal(w.length, 0);
  w.writeFrame({ kind: Kind.REQUEST, callId: 1 }, new Uint8Array([1, 2, 3]));
  const afterOne = w.length;
  assert.equal(afterOne, HEADER_SIZE + 2 + 3); // meta: kind REQUEST (0) omitted, call id 2 bytes
  w.writeFrame({ kind: Kind.PING, callId: 2 });
  w.writeFrame({ kind: Kind.RESPONSE, callId: 3, status: 5, errorMessage: "gone" });
  w.writeFrame({ kind: Kind.CANCEL, callId: 4 }, new Uint8Array(0));
  const bytes = w.take();
  assert.equal(w.length, 0, "take() empties the writer");
  const frames = decodeAll(bytes);
  assert.deepEqual(frames.map((f) => [f.meta.kind, f.meta.callId]), [
    [Kind.REQUEST, 1],
    [Kind.PING, 2],
    [Kind.RESPONSE, 3],
    [Kind.CANCEL, 4],
  ]);
  assert.deepEqual(frames[0]!.payload, [1, 2, 3]);
  assert.equal(frames[2]!.meta.errorMessage, "gone");
  assert.equal(frames[2]!.meta.status, 5);
});

Deno.test("FrameWriter: bytes taken are not disturbed by frames written afterwards", () => {
  const w = new FrameWriter();
  w.writeFrame({ kind: Kind.RESPONSE, callId: 1 }, new Uint8Array(100).fill(0xaa));
  const taken = w.take();
  const copy = taken.slice();
  for (let i = 0; i < 50; i++) {
    w.writeFrame({ kind: Kind.RESPONSE, callId: 2 + i }, new Uint8Array(1000).fill(i));
  }
  assert.deepEqual(taken, copy);
  const second = w.take();
  assert.notEqual(second.buffer, taken.buffer);
  assert.equal(decodeAll(second).length, 50);
  assert.deepEqual(decodeAll(taken).map((f) => f.meta.callId), [1]);
});

Deno.test("FrameWriter reuses a released buffer for a later take()", () => {
  const w = new FrameWriter();
  w.writeFrame({ kind: Kind.PING, callId: 1 });
  const t1 = w.take();
  w.release(t1);
  w.writeFrame({ kind: Kind.PING, callId: 2 });
  const t2 = w.take();
  assert.notEqual(t2.buffer, t1.buffer, "the buffer being written is not the released one");
  w.release(t2);
  w.writeFrame({ kind: Kind.PING, callId: 3 });
  const t3 = w.take();
  assert.equal(t3.buffer, t1.buffer, "the released buffer came back");
  assert.deepEqual(decodeAll(t3).map((f) => f.meta.callId), [3]);
});

Deno.test("FrameWriter grows for a frame larger than its buffer and keeps earlier frames", () => {
  const w = new FrameWriter();
  w.writeFrame({ kind: Kind.RESPONSE, callId: 1 }, new Uint8Array([9]));
  const big = new Uint8Array(200 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = i & 0xff;
  w.writeFrame({ kind: Kind.RESPONSE, callId: 2 }, big);
  w.writeFrame({ kind: Kind.RESPONSE, callId: 3 }, new Uint8Array([7]));
  const frames = decodeAll(w.take());
  assert.deepEqual(frames.map((f) => f.meta.callId), [1, 2, 3]);
  assert.deepEqual(frames[0]!.payload, [9]);
  assert.equal(frames[1]!.payload.length, big.length);
  assert.ok(frames[1]!.payload.every((b, i) => b === (i & 0xff)));
  assert.deepEqual(frames[2]!.payload, [7]);
});

Deno.test("FrameWriter does not keep a released buffer over 1 MiB", () => {
  const w = new FrameWriter();
  w.writeFrame({ kind: Kind.RESPONSE, callId: 1 }, new Uint8Array(2 * 1024 * 1024));
  const huge = w.take();
  assert.ok(huge.buffer.byteLength > 1024 * 1024);
  w.release(huge);
  for (let i = 0; i < 3; i++) {
    w.writeFrame({ kind: Kind.PING, callId: i });
    const t = w.take();
    assert.notEqual(t.buffer, huge.buffer);
    w.release(t);
  }
});

Deno.test("FrameWriter writes the body and meta lengths into the header", () => {
  const w = new FrameWriter();
  w.writeFrame({ kind: Kind.RESPONSE, callId: 300, metadata: { k: "v" } }, new Uint8Array(10));
  const b = w.take();
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  assert.equal(v.getUint32(0), 0x4d525043);
  const bodyLen = v.getUint32(4);
  const metaLen = v.getUint32(8);
  assert.equal(bodyLen, b.length - HEADER_SIZE);
  assert.equal(bodyLen - metaLen, 10);
  // kind (2) + call id 300 (1 + 2) + metadata entry (1 + 1 + 3 + 3)
  assert.equal(metaLen, 2 + 3 + 8);
});

Deno.test("FrameWriter writes nothing and returns false for a frame whose body is over maxBodyBytes", () => {
  const w = new FrameWriter();
  assert.equal(w.writeFrame({ kind: 1, callId: 1 }, new Uint8Array(60), 64), true);
  const before = w.length;
  assert.equal(w.writeFrame({ kind: 1, callId: 2 }, new Uint8Array(61), 64), false);
  assert.equal(w.length, before, "nothing of the refused frame was written");
});
