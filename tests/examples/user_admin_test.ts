/**
 * The examples/user provider with `--admin-port` serves Prometheus metrics and the console page
 * next to its RPC port.
 */
import assert from "node:assert/strict";
import { loadProto, RpcChannel } from "../../mod.ts";

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("examples/user provider with --admin-port serves /metrics and the console page", async () => {
  const [port, adminPort] = [freePort(), freePort()];
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../../examples/user/provider.ts", import.meta.url).pathname,
      "--port",
      String(port),
      "--admin-port",
      String(adminPort),
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    let out = "";
    while (!out.includes("console page:")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`provider exited early: ${out}`);
      out += value;
    }
    assert.ok(out.includes(`console page: http://127.0.0.1:${adminPort}/`), out);
    const root = await loadProto(new URL("../../examples/user/user.proto", import.meta.url));
    await using channel = new RpcChannel({ address: `127.0.0.1:${port}`, timeoutMs: 5000 });
    const users = channel.stub(root.lookupService("fixbug.UserServiceRpc"));
    await users.Login!({ name: new TextEncoder().encode("zhang san") });
    const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    assert.ok(
      metrics.includes(
        'mprpc_server_calls_total{service="fixbug.UserServiceRpc",method="Login",code="OK"} 1',
      ),
      metrics,
    );
    const page = await (await fetch(`http://127.0.0.1:${adminPort}/`)).text();
    assert.ok(page.includes("mprpc console"));
  } finally {
    child.kill("SIGTERM");
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
    }
    assert.equal((await child.status).code, 0, "the provider stops cleanly on SIGTERM");
  }
});
