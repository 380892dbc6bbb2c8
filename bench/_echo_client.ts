/**
 * The raw TCP echo client of the ceiling: `--conns` connections × `--depth` closed-loop workers
 * (the same {@linkcode closedLoop} as the mprpc caller), responses matched to calls in order
 * (the server answers in order). `--mode bytes` sends the pre-encoded request and reads the
 * response's length; `--mode proto` encodes the request object and decodes the response
 * (`fromObject` + `encode`, `decode` + `toObject`, as mprpc's stubs); `--mode proto-copy` decodes a
 * copy of each response, so the decoded message owns its bytes (as a caller's must) instead of
 * viewing the reused read buffer. Prints `{"result":...}`.
 * With `--alloc-calls N`, counts the bytes allocated per call instead (see
 * {@linkcode allocationsPerCall}).
 *
 * @module
 */
import { allocationsPerCall, closedLoop, emit, parseFlags } from "./_load.ts";
import { RawFramedConn } from "./_raw_conn.ts";
import { loadShapes, type ShapeName } from "./_shapes.ts";

const flags = parseFlags(Deno.args);
const num = (key: string, dflt: number) => Number(flags.get(key) ?? dflt);
const mode = flags.get("mode") ?? "bytes";
const shape = (await loadShapes())[(flags.get("shape") ?? "small") as ShapeName];
if (!shape) throw new TypeError(`unknown --shape ${flags.get("shape")}`);
const [host, port] = (flags.get("address") ?? "127.0.0.1:0").split(":");
const depth = num("depth", 1);
const { requestCodec, responseCodec, request } = shape;
const encoded = requestCodec.encode(request);

/** One connection and its FIFO of waiting calls (a ring as big as the calls in flight). */
class Lane {
  rc: RawFramedConn;
  #ring: Array<((v: unknown) => void) | undefined>;
  #mask: number;
  #head = 0;
  #tail = 0;
  constructor(conn: Deno.TcpConn) {
    let cap = 2;
    while (cap < depth + 1) cap *= 2;
    this.#ring = new Array(cap);
    this.#mask = cap - 1;
    this.rc = new RawFramedConn(conn, (payload) => {
      const resolve = this.#ring[this.#head]!;
      this.#ring[this.#head] = undefined;
      this.#head = (this.#head + 1) & this.#mask;
      resolve(
        mode === "bytes"
          ? payload.length
          : responseCodec.decode(mode === "proto-copy" ? payload.slice() : payload),
      );
    });
    this.rc.start();
  }
  call = (): Promise<unknown> => {
    this.rc.send(mode === "bytes" ? encoded : requestCodec.encode(request));
    return new Promise((resolve) => {
      this.#ring[this.#tail] = resolve;
      this.#tail = (this.#tail + 1) & this.#mask;
    });
  };
}

const lanes: Lane[] = [];
try {
  for (let i = 0; i < num("conns", 1); i++) {
    const conn = await Deno.connect({
      hostname: host ?? "127.0.0.1",
      port: Number(port),
      transport: "tcp",
    });
    lanes.push(new Lane(conn));
  }
  await Promise.all(lanes.map((l) => l.call()));
  const result = flags.has("alloc-calls")
    ? await allocationsPerCall(lanes.map((l) => l.call), depth, num("alloc-calls", 20_000))
    : await closedLoop(lanes.map((l) => l.call), {
      depth,
      warmupMs: num("warmup-ms", 300),
      durationMs: num("duration-ms", 1000),
      peerPid: flags.has("peer-pid") ? num("peer-pid", 0) : undefined,
    });
  emit({ result });
} finally {
  await Promise.all(lanes.map((l) => l.rc.close()));
}
Deno.exit(0);
