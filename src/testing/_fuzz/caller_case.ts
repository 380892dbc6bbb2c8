/**
 * The fuzzer's caller-side cases: a fake provider answers an `RpcChannel`'s call with hostile
 * bytes (see `callerAnswer` in cases.ts).
 *
 * @module
 */
import { RpcChannel } from "../../client/rpc_channel.ts";
import { codeName, RpcError } from "../../errors.ts";
import { parseProto } from "../../schema/load_proto.ts";
import { encodeMeta, Kind } from "../../wire/meta.ts";
import { callerAnswer, type CallerBehaviour, type CallerCase, type Case, frame } from "./cases.ts";
import { CountingLogger } from "./counting_logger.ts";
import type { FuzzReport } from "./options.ts";
import { closeQuietly, readFrames, writeAll } from "./sockets.ts";

const PROBE_PROTO = parseProto(
  `syntax = "proto3"; package mprpc.fuzz;
   message Blob { string text = 1; bytes data = 2; }
   service Probe { rpc Check(Blob) returns (Blob); }`,
  "fuzz_probe.proto",
);

/** Expected results of each caller-side behaviour: status names, or "OK". */
const CALLER_EXPECT: Record<CallerBehaviour, { codes: string[]; protocolError: boolean }> = {
  request: { codes: ["INTERNAL"], protocolError: true },
  garbage: { codes: ["INTERNAL"], protocolError: true },
  huge: { codes: ["INTERNAL"], protocolError: true },
  oversize: { codes: ["RESOURCE_EXHAUSTED"], protocolError: false },
  unknown_kind: { codes: ["INTERNAL"], protocolError: true },
  cancel: { codes: ["INTERNAL"], protocolError: true },
  bad_meta: { codes: ["INTERNAL"], protocolError: true },
  truncated_close: { codes: ["UNAVAILABLE"], protocolError: false },
  close: { codes: ["UNAVAILABLE"], protocolError: false },
  bad_payload: { codes: ["OK", "INTERNAL"], protocolError: false },
  wrong_id: { codes: ["DEADLINE_EXCEEDED"], protocolError: false },
  status: { codes: ["*status"], protocolError: false },
  goaway_status: { codes: ["*status"], protocolError: false },
  stall: { codes: ["DEADLINE_EXCEEDED"], protocolError: false },
  overflowing_entry: { codes: ["INTERNAL"], protocolError: true },
  bad_call_id: { codes: ["INTERNAL"], protocolError: true },
};

/**
 * Runs one caller-side case: a fake provider answers an `RpcChannel` call with the case's
 * hostile bytes; the call must settle as expected and a protocol error must close the connection.
 */
export async function runCallerCase(
  i: number,
  c: CallerCase,
  report: FuzzReport,
  fail: (i: number, c: Case, what: string) => void,
  count: (rec: Record<string, number>, key: string) => void,
): Promise<void> {
  const r = c.rng;
  const status = r.int(1, 40);
  let sawEof = false;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serve = (async () => {
    let conn: Deno.Conn;
    try {
      conn = await listener.accept();
    } catch {
      return;
    }
    try {
      // Answer the connection handshake (a PING) first, then wait for the request.
      let first = await readFrames(conn, 2000, (fs) => fs.length > 0);
      if (first.frames[0]?.kind === Kind.PING) {
        await writeAll(
          conn,
          frame(encodeMeta({ kind: Kind.PONG, callId: first.frames[0].callId })),
        );
        first = first.frames.length > 1
          ? { ...first, frames: first.frames.slice(1) }
          : await readFrames(conn, 2000, (fs) => fs.length > 0);
      }
      const id = first.frames[0]?.callId ?? 1;
      const bytes = callerAnswer(c.behaviour, r, id, status);
      if (bytes.length > 0) await writeAll(conn, bytes);
      if (c.behaviour === "close" || c.behaviour === "truncated_close") return;
      // The caller must hang up on us (protocol error) or after its deadline.
      const rest = await readFrames(conn, 3000);
      sawEof = rest.closed;
    } finally {
      closeQuietly(conn);
    }
  })();
  const logger = new CountingLogger();
  const channel = new RpcChannel({
    address: { host: "127.0.0.1", port: listener.addr.port },
    timeoutMs: 400,
    keepaliveMs: 0,
    logger,
  });
  const started = Date.now();
  let result = "OK";
  try {
    const stub = channel.stub(PROBE_PROTO.lookupService("mprpc.fuzz.Probe"));
    await stub.Check!({ text: `case ${i}` });
  } catch (e) {
    result = e instanceof RpcError ? codeName(e.code) : `not an RpcError: ${e}`;
    if (e instanceof RpcError && (c.behaviour === "status" || c.behaviour === "goaway_status")) {
      if (e.code === status) result = "*status";
    }
  } finally {
    const elapsed = Date.now() - started;
    if (elapsed > 400 + 1000) fail(i, c, `the call took ${elapsed} ms with a 400 ms deadline`);
    await channel.close();
    await serve;
    closeQuietly(listener);
  }
  count(report.outcomes, result === "*status" ? "ERROR_STATUS" : result);
  const expected = CALLER_EXPECT[c.behaviour];
  if (!expected.codes.includes(result)) {
    fail(i, c, `the call ended with ${result}; expected ${expected.codes.join(" or ")}`);
  }
  const protocolLines = logger.lines.filter((l) => l.msg === "closing connection: protocol error");
  if (expected.protocolError) {
    if (protocolLines.length !== 1) {
      fail(i, c, `expected one protocol-error log line, got ${protocolLines.length}`);
    }
    if (!sawEof) fail(i, c, "the caller did not close the connection after a protocol error");
  }
}
