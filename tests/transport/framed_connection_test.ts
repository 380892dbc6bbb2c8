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
