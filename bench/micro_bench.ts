/**
 * Micro-benchmarks of the call path, for `deno bench -A --unstable-net bench/micro_bench.ts`:
 * frame encode/decode, RpcMeta encode/decode, the message codec (mprpc's plain-object codec
 * against bare protobufjs), server dispatch of a batch of requests on an in-memory stream
 * (no sockets), and a stub call over loopback in one process.
 *
 * Each benchmark handles a batch of 64 frames or calls, the `1x64` shape of bench/run.ts.
 *
 * @module
 */
import { ConsoleLogger, RpcChannel, RpcProvider } from "../mod.ts";
import { describeMethod, typeCodec } from "../src/schema/method_descriptor.ts";
import { messageCheck } from "../src/schema/message_check.ts";
import { type Route, ServerConnection, type ServerHost } from "../src/server/server_connection.ts";
import type { ByteStream } from "../src/transport/framed_connection.ts";
import { DeadlineWheel } from "../src/util/deadline_wheel.ts";
import { FrameDecoder } from "../src/wire/frame.ts";
import { FrameWriter } from "../src/wire/frame_writer.ts";
import { decodeMeta, encodeMeta, Kind } from "../src/wire/meta.ts";
import { loadShapes } from "./_shapes.ts";

const BATCH = 64;
const shapes = await loadShapes();
const small = shapes.small;
const login = describeMethod(small.service.methods[small.method]!);
const requestBytes = small.requestCodec.encode(small.request);
const loginReqType = login.request.type;

// ---- frames and meta ------------------------------------------------------------------------

const writer = new FrameWriter();
function encodeBatch(): Uint8Array {
  for (let i = 1; i <= BATCH; i++) {
    writer.writeFrame(
      { kind: Kind.REQUEST, callId: i, route: login.route, timeoutMs: 30_000 },
      requestBytes,
    );
  }
  return writer.take();
}
const batch = encodeBatch().slice();
writer.release(encodeBatch());

Deno.bench({
  name: `FrameWriter: ${BATCH} request frames (100-byte payload) + take/release`,
  group: "frame",
  baseline: true,
  fn() {
    writer.release(encodeBatch());
  },
});

let decoded = 0;
const decoder = new FrameDecoder(4 * 1024 * 1024, () => decoded++);
Deno.bench({
  name: `FrameDecoder: one chunk of ${BATCH} request frames`,
  group: "frame",
  fn() {
    decoder.push(batch);
  },
});

const metaFields = { kind: Kind.REQUEST, callId: 12345, route: login.route, timeoutMs: 30_000 };
const metaBytes = encodeMeta(metaFields);
Deno.bench({
  name: "encodeMeta: request meta (fresh array)",
  group: "meta",
  baseline: true,
  fn() {
    encodeMeta(metaFields);
  },
});
Deno.bench({
  name: "decodeMeta: request meta",
  group: "meta",
  fn() {
    decodeMeta(metaBytes);
  },
});

// ---- message codec --------------------------------------------------------------------------

const codec = typeCodec(loginReqType);
Deno.bench({
  name: "LoginRequest encode: protobufjs encode(plain object)",
  group: "codec",
  baseline: true,
  fn() {
    loginReqType.encode(small.request).finish();
  },
});
Deno.bench({
  name: "LoginRequest encode: mprpc codec (check + encode)",
  group: "codec",
  fn() {
    codec.encode(small.request);
  },
});
const check = messageCheck(loginReqType);
Deno.bench({
  name: "LoginRequest check alone (the part of the codec's encode that refuses wrong input)",
  group: "codec",
  fn() {
    check(small.request);
  },
});
Deno.bench({
  name: "LoginRequest decode: protobufjs decode (Message instance)",
  group: "codec",
  fn() {
    loginReqType.decode(requestBytes);
  },
});
Deno.bench({
  name: "LoginRequest decode: mprpc codec (decode + toObject)",
  group: "codec",
  fn() {
    codec.decode(requestBytes);
  },
});
const loginResponse = small.responseCodec.encode(small.respond(small.request));
Deno.bench({
  name: "LoginResponse decode (an empty bytes field): mprpc codec, from a reused read buffer",
  group: "codec",
  fn() {
    login.response.decode(loginResponse, true);
  },
});

// ---- server dispatch on an in-memory stream -------------------------------------------------

/** A ByteStream fed by `push` that counts written bytes. */
class MemoryStream implements ByteStream {
  #queue: Uint8Array[] = [];
  #reader: { p: Uint8Array; resolve: (n: number | null) => void } | undefined;
  #written = 0;
  #want = 0;
  #onWritten: (() => void) | undefined;
  #closed = false;

  push(chunk: Uint8Array): void {
    const r = this.#reader;
    if (r) {
      this.#reader = undefined;
      r.resolve(this.#fill(r.p, chunk));
    } else this.#queue.push(chunk);
  }

  /** Copies as much of `chunk` as fits into `p` (like a socket read); queues the rest. */
  #fill(p: Uint8Array, chunk: Uint8Array): number {
    const n = Math.min(p.length, chunk.length);
    p.set(chunk.subarray(0, n));
    if (n < chunk.length) this.#queue.unshift(chunk.subarray(n));
    return n;
  }

  /** Resolves once `bytes` more bytes have been written. */
  written(bytes: number): Promise<void> {
    this.#want = this.#written + bytes;
    return new Promise((resolve) => this.#onWritten = resolve);
  }

  read(p: Uint8Array): Promise<number | null> {
    if (this.#closed) return Promise.resolve(null);
    const chunk = this.#queue.shift();
    if (chunk) return Promise.resolve(this.#fill(p, chunk));
    return new Promise((resolve) => this.#reader = { p, resolve });
  }

  write(p: Uint8Array): Promise<number> {
    this.#written += p.length;
    if (this.#onWritten && this.#written >= this.#want) {
      const done = this.#onWritten;
      this.#onWritten = undefined;
      done();
    }
    return Promise.resolve(p.length);
  }

  close(): void {
    this.#closed = true;
    this.#reader?.resolve(null);
    this.#reader = undefined;
  }
}

const route: Route = { desc: login, handler: small.respond, lend: false };
const host: ServerHost = {
  logger: new ConsoleLogger("CRITICAL"),
  wheel: new DeadlineWheel(),
  maxMessageBytes: 4 * 1024 * 1024,
  maxInflightPerConnection: 1_000_000,
  slowCallMs: 1e9,
  route: () => route,
  callDelta() {},
  connectionClosed() {},
};
const stream = new MemoryStream();
const server = new ServerConnection(host, stream, { host: "127.0.0.1", port: 1 });
server.start();
// Bytes of the batch's responses (what the dispatch bench waits for).
const responsePayload = small.responseCodec.encode(small.respond(small.request));
const responses = new FrameWriter();
for (let i = 1; i <= BATCH; i++) {
  responses.writeFrame({ kind: Kind.RESPONSE, callId: i }, responsePayload);
}
const responseBytes = responses.take().length;
Deno.bench({
  name: `ServerConnection: dispatch ${BATCH} Login requests (in-memory stream)`,
  group: "dispatch",
  baseline: true,
  async fn() {
    const done = stream.written(responseBytes);
    stream.push(batch);
    await done;
  },
});

// ---- stub call over loopback, one process ---------------------------------------------------

const provider = new RpcProvider({ logger: new ConsoleLogger("CRITICAL") });
provider.notifyService(small.service, { [small.method]: small.respond });
await provider.start();
const channel = new RpcChannel({
  address: provider.address,
  logger: new ConsoleLogger("CRITICAL"),
});
const stub = channel.stub(small.service)[small.method]!;
await stub(small.request);
Deno.bench({
  name: `stub.Login: ${BATCH} concurrent calls, provider in the same process (loopback TCP)`,
  group: "dispatch",
  async fn() {
    const calls = [];
    for (let i = 0; i < BATCH; i++) calls.push(stub(small.request));
    await Promise.all(calls);
  },
});

globalThis.addEventListener("unload", () => {
  // deno bench does not wait for these; closing keeps a clean shutdown all the same.
  void channel.close().catch(() => {});
  void provider.close({ graceMs: 0 }).catch(() => {});
  stream.close();
  host.wheel.close();
});
