/**
 * FramedConnection's backpressure, over an in-memory stream: with `maxUnsentBytes`, reading stops
 * while the peer does not take the output, and resumes once half of it is written.
 */
import assert from "node:assert/strict";
import { type ByteStream, FramedConnection } from "../../src/transport/framed_connection.ts";
import { FrameWriter } from "../../src/wire/frame_writer.ts";
import { Kind } from "../../src/wire/meta.ts";

/** A peer that sends PINGs (`maxReads` reads of them) and takes writes only when `open`. */
class StubbornPeer implements ByteStream {
  reads = 0;
  written = 0;
  open = false;
  #chunk: Uint8Array;
  #blocked: Array<() => void> = [];
  #closed = false;
  #maxReads: number;
  constructor(framesPerRead: number, maxReads: number) {
    this.#maxReads = maxReads;
    const w = new FrameWriter();
    for (let i = 1; i <= framesPerRead; i++) w.writeFrame({ kind: Kind.PING, callId: i });
    this.#chunk = w.take().slice();
  }
  async read(p: Uint8Array): Promise<number | null> {
    await new Promise((r) => setTimeout(r, 0)); // one read per macrotask, like a socket
    if (this.#closed || this.reads >= this.#maxReads) return null;
    this.reads++;
    p.set(this.#chunk);
    return this.#chunk.length;
  }
  async write(p: Uint8Array): Promise<number> {
    while (!this.open && !this.#closed) await new Promise<void>((r) => this.#blocked.push(r));
    this.written += p.length;
    return p.length;
  }
  /** Starts taking writes. */
  drain(): void {
    this.open = true;
    for (const r of this.#blocked.splice(0)) r();
  }
  close(): void {
    this.#closed = true;
    for (const r of this.#blocked.splice(0)) r();
  }
}

const tick = () => new Promise((r) => setTimeout(r, 10));

Deno.test("with maxUnsentBytes, a connection stops reading while its output is not taken, and resumes once it drains", async () => {
  const peer = new StubbornPeer(100, 1000); // 100 PINGs (1600 bytes) per read
  const max = 16 * 1024;
  const fc: FramedConnection = new FramedConnection(peer, {
    maxMessageBytes: 1024,
    maxUnsentBytes: max,
    onFrame: (meta) => fc.send({ kind: Kind.PONG, callId: meta.callId }),
    onClose: () => {},
  });
  fc.start();
  for (let i = 0; i < 500 && !fc.readPaused; i++) await tick();
  const reads = peer.reads;
  assert.ok(fc.readPaused, "reading did not pause");
  assert.ok(fc.unsentBytes > max && fc.unsentBytes <= max + 1600, `${fc.unsentBytes} unsent`);
  for (let i = 0; i < 5; i++) await tick();
  assert.equal(peer.reads, reads, "it kept reading while paused");
  peer.drain();
  for (let i = 0; i < 500 && peer.reads === reads; i++) await tick();
  assert.ok(peer.reads > reads, "reading did not resume");
  assert.ok(peer.written > max);
  await fc.close();
});

Deno.test("without maxUnsentBytes (a caller's connection) reading never pauses", async () => {
  const peer = new StubbornPeer(100, 50);
  const fc: FramedConnection = new FramedConnection(peer, {
    maxMessageBytes: 1024,
    onFrame: (meta) => fc.send({ kind: Kind.PONG, callId: meta.callId }),
    onClose: () => {},
  });
  fc.start();
  for (let i = 0; i < 500 && peer.reads < 50; i++) await tick();
  assert.equal(fc.readPaused, false);
  assert.equal(peer.reads, 50, "it stopped reading");
  assert.ok(fc.unsentBytes > 16 * 1024);
  peer.drain();
  await fc.close();
});

Deno.test("drain() resolves once batched frames left with a later send's write, without waiting for another write", async () => {
  const peer = new StubbornPeer(1, 0);
  peer.drain(); // takes writes at once
  const fc = new FramedConnection(peer, {
    maxMessageBytes: 1024,
    onFrame: () => {},
    onClose: () => {},
  });
  fc.sendBatched({ kind: Kind.PING, callId: 1 }); // waits for the next turn
  fc.send({ kind: Kind.PONG, callId: 2 }); // written now, the batched frame with it
  for (let i = 0; i < 100 && peer.written === 0; i++) await Promise.resolve();
  for (let i = 0; i < 100; i++) await Promise.resolve(); // the write loop ends
  assert.ok(peer.written > 0, "nothing was written");
  let drained = false;
  const drain = fc.drain().then(() => drained = true);
  for (let i = 0; i < 5 && !drained; i++) await tick();
  assert.ok(drained, "drain() kept waiting after everything was written");
  await drain;
  await fc.close();
});

/** A peer whose bytes arrive `step` at a time, recording the size of every read buffer offered. */
class TricklePeer implements ByteStream {
  offered: number[] = [];
  #bytes: Uint8Array;
  #pos = 0;
  constructor(bytes: Uint8Array, readonly step: number) {
    this.#bytes = bytes;
  }
  read(p: Uint8Array): Promise<number | null> {
    this.offered.push(p.length);
    if (this.#pos >= this.#bytes.length) return Promise.resolve(null);
    const n = Math.min(p.length, this.step, this.#bytes.length - this.#pos);
    p.set(this.#bytes.subarray(this.#pos, this.#pos + n));
    this.#pos += n;
    return Promise.resolve(n);
  }
  write(p: Uint8Array): Promise<number> {
    return Promise.resolve(p.length);
  }
  close(): void {}
}

Deno.test("the rest of a large frame body is read from the socket straight into the frame's own array, and the frames around it arrive intact", async () => {
  const big = new Uint8Array(200_000).map((_, i) => (i * 7) & 0xff);
  const w = new FrameWriter();
  w.writeFrame({ kind: Kind.RESPONSE, callId: 1 }, new Uint8Array([1, 2, 3]));
  w.writeFrame({ kind: Kind.RESPONSE, callId: 2 }, big);
  w.writeFrame({ kind: Kind.RESPONSE, callId: 3 }, new Uint8Array([4]));
  const peer = new TricklePeer(w.take().slice(), 50_000);
  const got: Array<{ id: number; payload: Uint8Array; owned: boolean }> = [];
  let closed!: () => void;
  const done = new Promise<void>((r) => closed = r);
  const fc = new FramedConnection(peer, {
    maxMessageBytes: 1 << 20,
    onFrame: (meta, payload, owned) =>
      got.push({ id: meta.callId, payload: owned ? payload : payload.slice(), owned }),
    onClose: () => closed(),
  });
  fc.start();
  await done;
  await fc.close();
  assert.deepEqual(got.map((g) => g.id), [1, 2, 3]);
  assert.deepEqual([...got[0]!.payload], [1, 2, 3]);
  assert.ok(got[1]!.owned, "the large body is the frame's own array");
  assert.deepEqual(got[1]!.payload, big);
  assert.deepEqual([...got[2]!.payload], [4]);
  // The first read (4 KiB, the read buffer's first size) held frame 1 (12 + 4 + 3 bytes), the
  // header of frame 2 and the start of its body (meta 4 bytes + payload); from then on the socket
  // was offered exactly what was missing of that body, until it was complete.
  const bodyLength = 4 + big.length;
  const missing = bodyLength - (4096 - 19 - 12);
  assert.deepEqual(peer.offered.slice(0, 5), [
    4096,
    missing,
    missing - 50_000,
    missing - 100_000,
    missing - 150_000,
  ]);
});
