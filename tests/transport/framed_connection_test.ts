/**
 * FramedConnection's backpressure, over an in-memory stream: with `maxUnsentBytes`, reading stops
 * while the peer does not take the output, and resumes once half of it is written.
 */
import assert from "node:assert/strict";
import {
  type ByteStream,
  FramedConnection,
  MAX_HELD_READ_BYTES,
} from "../../src/transport/framed_connection.ts";
import type { ReceiveLease } from "../../src/transport/receive_buffers.ts";
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

/**
 * A peer whose bytes arrive when the test sends them (`send`), each in as many reads as the
 * buffers offered need; it records the array every read was offered.
 */
class ScriptedPeer implements ByteStream {
  offered: Uint8Array[] = [];
  #queue: Uint8Array[] = [];
  #wake: (() => void) | undefined;
  #ended = false;
  /** Sends `bytes`, the first read getting at most `first` of them. */
  send(bytes: Uint8Array, first = bytes.length): void {
    this.#queue.push(bytes.slice(0, first));
    if (first < bytes.length) this.#queue.push(bytes.slice(first));
    this.#wake?.();
  }
  end(): void {
    this.#ended = true;
    this.#wake?.();
  }
  async read(p: Uint8Array): Promise<number | null> {
    this.offered.push(p);
    while (this.#queue.length === 0 && !this.#ended) {
      await new Promise<void>((r) => this.#wake = r);
      this.#wake = undefined;
    }
    const chunk = this.#queue[0];
    if (chunk === undefined) return null;
    const n = Math.min(p.length, chunk.length);
    p.set(chunk.subarray(0, n));
    if (n === chunk.length) this.#queue.shift();
    else this.#queue[0] = chunk.subarray(n);
    return n;
  }
  write(p: Uint8Array): Promise<number> {
    return Promise.resolve(p.length);
  }
  close(): void {
    this.end();
  }
}

/** A RESPONSE frame whose payload is `size` bytes of `fill`. */
function frame(callId: number, size: number, fill: number): Uint8Array {
  const w = new FrameWriter();
  w.writeFrame({ kind: Kind.RESPONSE, callId }, new Uint8Array(size).fill(fill));
  return w.take().slice();
}

/** A lending connection over a scripted peer, and the frames it received, awaited one by one. */
function lendingConnection(lend: (callId: number) => boolean) {
  const peer = new ScriptedPeer();
  const frames: Array<{ id: number; payload: Uint8Array; owned: boolean; lease?: ReceiveLease }> =
    [];
  let arrived: (() => void) | undefined;
  const fc: FramedConnection = new FramedConnection(peer, {
    maxMessageBytes: 1 << 20,
    lendBuffers: true,
    onFrame: (meta, payload, owned) => {
      const lease = lend(meta.callId) ? fc.lend() : undefined;
      frames.push({ id: meta.callId, payload, owned, ...(lease && { lease }) });
      arrived?.();
    },
    onClose: () => {},
  });
  fc.start();
  /** Waits for the `count`th frame and returns it. */
  const nth = async (count: number) => {
    while (frames.length < count) await new Promise<void>((r) => arrived = r);
    return frames[count - 1]!;
  };
  return { peer, fc, nth };
}

const allEqual = (bytes: Uint8Array, value: number) => bytes.every((b) => b === value);

Deno.test("a payload lent from the read buffer stays intact while later frames are read, and that buffer is read into again once released", async () => {
  const { peer, fc, nth } = lendingConnection((id) => id === 1 || id === 41);
  peer.send(frame(1, 100, 1));
  const first = await nth(1);
  assert.equal(first.owned, false, "a small frame arrives in the read buffer");
  assert.ok(first.lease !== undefined, "the read buffer is not lent");
  const lentBuffer = first.payload.buffer;
  for (let id = 2; id <= 40; id++) {
    peer.send(frame(id, 100, id));
    await nth(id);
  }
  assert.ok(allEqual(first.payload, 1), "the lent payload was overwritten by later frames");
  const readsWhileLent = peer.offered.length;
  assert.ok(
    peer.offered.slice(1).every((p) => p.buffer !== lentBuffer),
    "the lent buffer was read into again",
  );
  first.lease!.release();
  // Frame 41 lends the current read buffer: the next read swaps it for a pooled one.
  peer.send(frame(41, 100, 41));
  const lent41 = await nth(41);
  peer.send(frame(42, 100, 42));
  await nth(42);
  assert.ok(allEqual(lent41.payload, 41));
  assert.ok(
    peer.offered.slice(readsWhileLent).some((p) => p.buffer === lentBuffer),
    "the released buffer was not reused",
  );
  lent41.lease!.release();
  peer.end();
  await fc.close();
});

Deno.test("a large body read straight into its own pooled array is reused for a later body once its lease is released", async () => {
  const { peer, fc, nth } = lendingConnection((id) => id === 1);
  peer.send(frame(1, 40_000, 1), 100);
  const first = await nth(1);
  assert.ok(first.owned, "the large body is not the frame's own array");
  assert.ok(first.lease !== undefined, "the body is not lent");
  assert.ok(
    peer.offered.some((p) => p.buffer === first.payload.buffer),
    "the body was not read straight into",
  );
  assert.ok(allEqual(first.payload, 1));
  first.lease!.release();
  peer.send(frame(2, 40_000, 2), 100);
  const second = await nth(2);
  assert.equal(second.payload.buffer, first.payload.buffer, "the released body was not reused");
  assert.ok(allEqual(second.payload, 2));
  peer.end();
  await fc.close();
});

Deno.test("a large body nobody borrowed is never reused: views decoded out of it stay intact", async () => {
  const { peer, fc, nth } = lendingConnection(() => false);
  peer.send(frame(1, 40_000, 1), 100);
  const first = await nth(1);
  assert.ok(first.owned);
  for (let id = 2; id <= 4; id++) {
    peer.send(frame(id, 40_000, id), 100);
    const later = await nth(id);
    assert.notEqual(later.payload.buffer, first.payload.buffer, "the kept body was reused");
  }
  assert.ok(allEqual(first.payload, 1), "the kept body was overwritten");
  peer.end();
  await fc.close();
});

Deno.test("a lease released twice never ends the lease of the next borrower of the same buffer", async () => {
  const peer = new ScriptedPeer();
  const bodies: Uint8Array[] = [];
  const leases: ReceiveLease[] = [];
  let arrived: (() => void) | undefined;
  const fc: FramedConnection = new FramedConnection(peer, {
    maxMessageBytes: 1 << 20,
    lendBuffers: true,
    onFrame: (_meta, payload) => {
      bodies.push(payload);
      leases.push(fc.lend()!);
      if (bodies.length === 1) leases[0]!.release(); // done with it at once
      arrived?.();
    },
    onClose: () => {},
  });
  fc.start();
  const nth = async (count: number) => {
    while (bodies.length < count) await new Promise<void>((r) => arrived = r);
    return bodies[count - 1]!;
  };
  peer.send(frame(1, 40_000, 1), 100);
  const first = await nth(1);
  peer.send(frame(2, 40_000, 2), 100);
  const second = await nth(2);
  assert.equal(second.buffer, first.buffer, "a body lent and released at once was not reused");
  leases[0]!.release(); // again, by mistake: frame 2's borrower still reads its body
  peer.send(frame(3, 40_000, 3), 100);
  const third = await nth(3);
  assert.notEqual(third.buffer, second.buffer, "a body still lent was reused");
  assert.ok(allEqual(second, 2), "a lent body was overwritten");
  leases[1]!.release();
  leases[2]!.release();
  peer.end();
  await fc.close();
});

Deno.test("a frame in the sniffed bytes the connection was given is not lent: lend() is undefined, frames read later are", async () => {
  const peer = new ScriptedPeer();
  const leases: Array<ReceiveLease | undefined> = [];
  let arrived: (() => void) | undefined;
  const fc: FramedConnection = new FramedConnection(peer, {
    maxMessageBytes: 1 << 20,
    lendBuffers: true,
    initial: frame(1, 100, 1),
    onFrame: () => {
      leases.push(fc.lend());
      arrived?.();
    },
    onClose: () => {},
  });
  fc.start();
  peer.send(frame(2, 100, 2));
  while (leases.length < 2) await new Promise<void>((r) => arrived = r);
  assert.equal(leases[0], undefined, "the sniffed bytes were lent");
  assert.ok(leases[1] !== undefined, "a frame in the read buffer was not lent");
  leases[1]!.release();
  peer.end();
  await fc.close();
});

Deno.test("frames in the read buffer are no longer lent while 1 MiB of earlier read buffers is held, and are lent again once those come back", async () => {
  const { peer, fc, nth } = lendingConnection(() => true);
  const total = MAX_HELD_READ_BYTES / 4096 + 20;
  for (let id = 1; id <= total; id++) {
    peer.send(frame(id, 100, id & 0xff)); // one 4 KiB read buffer per frame while each is lent
    await nth(id);
  }
  const frames = await Promise.all(Array.from({ length: total }, (_, i) => nth(i + 1)));
  const lent = frames.filter((f) => f.lease !== undefined);
  assert.equal(lent.length, MAX_HELD_READ_BYTES / 4096, "lending did not stop at the bound");
  assert.ok(frames.slice(lent.length).every((f) => f.lease === undefined));
  for (const f of lent) {
    assert.ok(allEqual(f.payload, f.id & 0xff), `frame ${f.id} was overwritten`);
  }
  for (const f of lent) f.lease!.release();
  peer.send(frame(total + 1, 100, 1));
  assert.ok((await nth(total + 1)).lease !== undefined, "lending did not resume");
  (await nth(total + 1)).lease!.release();
  peer.end();
  await fc.close();
});

/** A peer that takes every write at once and records its size; reads wait until it closes. */
class EagerSink implements ByteStream {
  writes: number[] = [];
  #closed: (() => void) | undefined;
  read(): Promise<number | null> {
    return new Promise((resolve) => this.#closed = () => resolve(null));
  }
  write(p: Uint8Array): Promise<number> {
    this.writes.push(p.length);
    return Promise.resolve(p.length);
  }
  close(): void {
    this.#closed?.();
  }
}

Deno.test("stream frames produced one per microtask leave in writes of 64 KiB, also while earlier writes complete at once", async () => {
  const sink = new EagerSink();
  const fc = new FramedConnection(sink, {
    maxMessageBytes: 1 << 20,
    onFrame: () => {},
    onClose: () => {},
  });
  fc.start();
  const payload = new Uint8Array(100);
  let bytes = 0;
  for (let i = 1; i <= 3000; i++) {
    fc.sendBatched({ kind: Kind.MESSAGE, callId: 1 }, payload);
    bytes += 12 + 100 + 4; // header, payload, a 4-byte meta at most
    await null; // an async generator's next message comes a microtask later
  }
  await fc.drain();
  const total = sink.writes.reduce((a, b) => a + b, 0);
  assert.ok(total > 3000 * 112 && total <= bytes, `wrote ${total} bytes`);
  // Before: a write completing at once let the loop write the few frames queued meanwhile, and
  // the stream went out in hundreds of small writes.
  assert.ok(
    sink.writes.slice(0, -1).every((n) => n >= 64 * 1024),
    `writes: ${sink.writes.join(", ")}`,
  );
  await fc.close();
});

Deno.test("lending connections share one pool of idle buffers, and each counts only its own held read buffers", async () => {
  const a = lendingConnection(() => true);
  const b = lendingConnection(() => true);
  // A holds enough small frames' read buffers to stop lending from its read buffer...
  const total = MAX_HELD_READ_BYTES / 4096 + 1;
  for (let id = 1; id <= total; id++) {
    a.peer.send(frame(id, 100, 1));
    await a.nth(id);
  }
  assert.equal((await a.nth(total)).lease, undefined, "A kept lending past its bound");
  // ...while B still lends, and reuses a large body A gave back.
  a.peer.send(frame(1000, 40_000, 7), 100);
  const big = await a.nth(total + 1);
  assert.ok(big.lease !== undefined, "A's large body is its own array: always lent");
  big.lease!.release();
  b.peer.send(frame(1, 100, 2));
  const small = await b.nth(1);
  assert.ok(small.lease !== undefined, "B's lending was stopped by A's held buffers");
  b.peer.send(frame(2, 40_000, 3), 100);
  const reused = await b.nth(2);
  assert.equal(reused.payload.buffer, big.payload.buffer, "B did not reuse the body A gave back");
  for (let id = 1; id <= total; id++) (await a.nth(id)).lease?.release();
  small.lease!.release();
  reused.lease!.release();
  for (const { peer, fc } of [a, b]) {
    peer.end();
    await fc.close();
  }
});
