/**
 * TLS peers that connect and never send a ClientHello: Deno cannot free their sockets before
 * the peer acts, so the provider bounds how many handshakes it has in progress, keeps serving
 * others below that bound, and recovers once such peers leave. The provider runs in a child
 * process so that its descriptors can be counted (`/proc/<pid>/fd`) apart from the test's.
 */
import assert from "node:assert/strict";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { eventually } from "../_helpers/eventually.ts";
import { kitchenService, type KitchenStub } from "../_helpers/kitchen.ts";
import { type ProviderProcess, spawnProvider } from "../_helpers/provider_process.ts";
import { closeQuietly } from "../_helpers/raw_tcp.ts";
import { makeTestCerts, opensslAvailable, type TestCerts } from "../_helpers/test_certs.ts";

const canRun = await opensslAvailable();
const READ_TIMEOUT_MS = 300;
const LIMIT = 4;

function openFds(pid: number): number {
  return [...Deno.readDirSync(`/proc/${pid}/fd`)].length;
}

/** Echo through a fresh channel, so over a new TLS connection. */
async function freshEcho(p: ProviderProcess, certs: TestCerts, text: string): Promise<string> {
  await using channel = new RpcChannel({
    address: { host: p.host, port: p.port },
    timeoutMs: 5000,
    logger: new CaptureLogger(),
    tls: { caFiles: [certs.caFile] },
  });
  const stub = channel.stub<KitchenStub>(await kitchenService());
  return (await stub.Echo({ text })).text as string;
}

function tlsProvider(certs: TestCerts, extra: string[] = []): Promise<ProviderProcess> {
  return spawnProvider({
    name: "tls",
    args: [
      `--tls-cert=${certs.certFile}`,
      `--tls-key=${certs.keyFile}`,
      `--read-timeout-ms=${READ_TIMEOUT_MS}`,
      ...extra,
    ],
  });
}

/**
 * The provider's descriptors once one TLS call has been served and its connection closed (the
 * runtime opens some descriptors lazily, on first use).
 */
async function settledFds(p: ProviderProcess, certs: TestCerts): Promise<number> {
  assert.equal(await freshEcho(p, certs, "warm up"), "warm up");
  await eventually("the warm-up connection to close", () => {
    const n = openFds(p.pid);
    return new Promise((r) => setTimeout(() => r(openFds(p.pid) === n), 100));
  });
  return openFds(p.pid);
}

function count(text: string, what: string): number {
  return text.split("\n").filter((l) => l.includes(what)).length;
}

Deno.test({
  name:
    "TLS peers that never send a ClientHello hold at most maxPendingTlsHandshakes sockets, and the provider recovers when they leave",
  ignore: !canRun,
  async fn() {
    await using certs = await makeTestCerts();
    await using p = await tlsProvider(certs, [`--max-pending-tls-handshakes=${LIMIT}`]);
    const baseline = await settledFds(p, certs);
    const silent: Deno.Conn[] = [];
    try {
      const connectSilent = async (n: number) => {
        for (let i = 0; i < n; i++) {
          silent.push(await Deno.connect({ hostname: p.host, port: p.port }));
        }
      };
      // Below the limit, handshakes run beside each other: others are still served.
      await connectSilent(LIMIT - 1);
      assert.equal(await freshEcho(p, certs, "beside them"), "beside them");
      // Over the limit: the provider stops accepting instead of holding a socket per peer.
      const limitLines = () => count(p.stderr(), "at the limit");
      const before = limitLines();
      await connectSilent(10 - (LIMIT - 1));
      await eventually("the limit warning", () => limitLines() > before);
      await new Promise((r) => setTimeout(r, READ_TIMEOUT_MS + 200));
      const held = openFds(p.pid) - baseline;
      assert.ok(held <= LIMIT + 1, `the provider holds ${held} more descriptors`);
      assert.equal(limitLines(), before + 1);
      // Each silent peer accepted is logged once (a real caller's handshake, slow under load,
      // may be too).
      const late = count(p.stderr(), "TLS handshake not finished");
      assert.ok(late >= LIMIT && late <= LIMIT + 2, p.stderr());
    } finally {
      for (const c of silent) closeQuietly(c);
    }
    // They left: their sockets are released and new callers are served.
    assert.equal(await freshEcho(p, certs, "after them"), "after them");
    await eventually("the sockets to be released", () => openFds(p.pid) <= baseline + 1);
  },
});

Deno.test({
  name:
    "a TLS peer that finishes the handshake but sends no frame is closed by the read timeout and its socket freed",
  ignore: !canRun,
  async fn() {
    await using certs = await makeTestCerts();
    await using p = await tlsProvider(certs);
    const baseline = await settledFds(p, certs);
    const ca = await Deno.readTextFile(certs.caFile);
    const conns: Deno.TlsConn[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        const c = await Deno.connectTls({ hostname: p.host, port: p.port, caCerts: [ca] });
        await c.handshake();
        conns.push(c);
      }
      const timeouts = () => count(p.stderr(), "closing connection: read timeout");
      await eventually("the provider to close them", () => timeouts() === 5);
      await eventually("the provider's sockets to be freed", () => openFds(p.pid) <= baseline + 1);
    } finally {
      for (const c of conns) closeQuietly(c);
    }
  },
});
