/**
 * The examples/user provider, run as its own process with `--legacy`, serves a native caller
 * and the original C++ mprpc's callers (their exact request bytes) on one port, at once.
 */
import assert from "node:assert/strict";
import { loadProto, RpcChannel } from "../../mod.ts";
import { LOGIN_REQUEST, REGISTER_REQUEST, toHex } from "../_fixtures/legacy_vectors.ts";

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** What a C++ mprpc caller does: one connection, the request in one write, read to EOF. */
async function legacyCall(port: number, request: Uint8Array): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(request);
    const chunks: number[] = [];
    const buf = new Uint8Array(1024);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(...buf.subarray(0, n));
    }
    return new Uint8Array(chunks);
  } finally {
    conn.close();
  }
}

Deno.test("examples/user provider with --legacy answers native and C++ callers on one port, byte-exact", async () => {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../../examples/user/provider.ts", import.meta.url).pathname,
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--legacy",
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    let out = "";
    while (!out.includes("listening on")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`provider exited early: ${out}`);
      out += value;
    }
    const root = await loadProto(new URL("../../examples/user/user.proto", import.meta.url));
    await using channel = new RpcChannel({ address: `127.0.0.1:${port}`, timeoutMs: 5000 });
    const users = channel.stub(root.lookupService("fixbug.UserServiceRpc"));
    const te = new TextEncoder();
    const [native, login, register] = await Promise.all([
      users.Login!({ name: te.encode("zhang san"), pwd: te.encode("123456") }),
      legacyCall(port, LOGIN_REQUEST),
      legacyCall(port, REGISTER_REQUEST),
    ]);
    assert.equal(native.success, true);
    assert.equal(toHex(login), "0a00"); // success=false, empty result, as the C++ provider
    assert.equal(toHex(register), "0a001001"); // success=true
    // The user registered through the C++ protocol can now log in natively.
    const again = await users.Login!({ name: te.encode("Kejiang"), pwd: te.encode("666666") });
    assert.equal(again.success, true);
  } finally {
    child.kill("SIGTERM");
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
    }
    const status = await child.status;
    assert.equal(status.code, 0, "the provider stops cleanly on SIGTERM");
  }
});
