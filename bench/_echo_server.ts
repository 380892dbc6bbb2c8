/**
 * The raw TCP echo server of the ceiling: {@linkcode RawFramedConn} framing, no mprpc code.
 * `--mode bytes` answers with bytes only (the pre-encoded response of the `--shape`, or the
 * request itself for `64k`); `--mode proto` also does what a provider does with protobufjs:
 * decode the request (`decode` + `toObject`), run the shape's handler, encode the response
 * (`fromObject` + `encode`); `--mode proto-copy` does the same on a copy of the request, so the
 * decoded message owns its bytes (as a provider's must: its handler may keep them) instead of
 * viewing the reused read buffer. Prints `{"ready":true,"port":N,"pid":P}`; exits when stdin ends.
 *
 * @module
 */
import { emit, parseFlags, stdinClosed } from "./_load.ts";
import { RawFramedConn } from "./_raw_conn.ts";
import { loadShapes, type ShapeName } from "./_shapes.ts";

const flags = parseFlags(Deno.args);
const mode = flags.get("mode") ?? "bytes";
const shape = (await loadShapes())[(flags.get("shape") ?? "small") as ShapeName];
if (!shape) throw new TypeError(`unknown --shape ${flags.get("shape")}`);
if (mode !== "bytes" && mode !== "proto" && mode !== "proto-copy") {
  throw new TypeError(`unknown --mode ${mode}`);
}
const copy = mode === "proto-copy";

const { requestCodec, responseCodec, respond } = shape;
const fixed = shape.name === "small"
  ? responseCodec.encode(respond(requestCodec.decode(requestCodec.encode(shape.request))))
  : undefined;

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" });
const conns = new Set<RawFramedConn>();
emit({ ready: true, port: (listener.addr as Deno.NetAddr).port, pid: Deno.pid });

const accepting = (async () => {
  try {
    for await (const conn of listener) {
      const rc: RawFramedConn = new RawFramedConn(
        conn,
        mode === "bytes" ? (payload) => rc.send(fixed ?? payload) : (payload) =>
          rc.send(
            responseCodec.encode(respond(requestCodec.decode(copy ? payload.slice() : payload))),
          ),
        () => conns.delete(rc),
      );
      conns.add(rc);
      rc.start();
    }
  } catch {
    // listener closed
  }
})();

await stdinClosed();
listener.close();
await accepting;
await Promise.all([...conns].map((c) => c.close()));
Deno.exit(0);
