/**
 * TLS peers that connect and never send a ClientHello: Deno cannot free their sockets before
 * the peer acts, so the provider bounds how many handshakes it has in progress, keeps serving
 * others below that bound, and recovers once such peers leave.
 */
import assert from "node:assert/strict";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { eventually } from "../_helpers/eventually.ts";
import { type Kitchen, type KitchenStub, startKitchen } from "../_helpers/kitchen.ts";
import { closeQuietly } from "../_helpers/raw_tcp.ts";
import { makeTestCerts, opensslAvailable, type TestCerts } from "../_helpers/test_certs.ts";

const canRun = await opensslAvailable();
const READ_TIMEOUT_MS = 300;
const LIMIT = 4;

function openFds(): number {
  return [...Deno.readDirSync("/proc/self/fd")].length;
}

/** Echo through a fresh channel, so over a new TLS connection. */
async function freshEcho(k: Kitchen, certs: TestCerts, text: string): Promise<string> {
  await using channel = new RpcChannel({
    address: k.provider.address,
    timeoutMs: 5000,
    logger: new CaptureLogger(),
    tls: { caFiles: [certs.caFile] },
  });
  return (await channel.stub<KitchenStub>(k.service).Echo({ text })).text as string;
}

Deno.test({
  name:
    "TLS peers that never send a ClientHello hold at most maxPendingTlsHandshakes sockets, and the provider recovers when they leave",
  ignore: !canRun,
  async fn() {
    await using certs = await makeTestCerts();
    await using k = await startKitchen({
      provider: {
        tls: { certFile: certs.certFile, keyFile: certs.keyFile },
        readTimeoutMs: READ_TIMEOUT_MS,
        maxPendingTlsHandshakes: LIMIT,
      },
    });
    assert.equal(await freshEcho(k, certs, "warm up"), "warm up");
    await eventually("the warm-up connection to close", () => k.provider.connectionCount === 0);
    const baseline = openFds();
    const silent: Deno.Conn[] = [];
    try {
      const connectSilent = async (n: number) => {
        for (let i = 0; i < n; i++) {
          silent.push(await Deno.connect({ hostname: "127.0.0.1", port: k.provider.address.port }));
        }
      };
      // Below the limit, handshakes run beside each other: others are still served.
      await connectSilent(LIMIT - 1);
      assert.equal(await freshEcho(k, certs, "beside them"), "beside them");
      // Over the limit: the provider stops accepting instead of holding a socket per peer.
      const limitLines = () => k.logger.find("warn", "at the limit").length;
      const before = limitLines();
      await connectSilent(10 - (LIMIT - 1));
      await eventually("the limit warning", () => limitLines() > before);
      await new Promise((r) => setTimeout(r, READ_TIMEOUT_MS + 200));
      const providerFds = openFds() - baseline - silent.length;
      assert.ok(providerFds <= LIMIT + 2, `the provider holds ${providerFds} sockets for them`);
      assert.equal(limitLines(), before + 1);
      assert.equal(k.logger.find("warn", "TLS handshake not finished").length, LIMIT);
    } finally {
      for (const c of silent) closeQuietly(c);
    }
    // They left: their sockets are released and new callers are served.
    assert.equal(await freshEcho(k, certs, "after them"), "after them");
    await eventually("the sockets to be released", () => openFds() <= baseline + 2);
  },
});

Deno.test({
  name:
    "a TLS peer that finishes the handshake but sends no frame is closed by the read timeout and its socket freed",
  ignore: !canRun,
  async fn() {
    await using certs = await makeTestCerts();
    await using k = await startKitchen({
      provider: {
        tls: { certFile: certs.certFile, keyFile: certs.keyFile },
        readTimeoutMs: READ_TIMEOUT_MS,
      },
    });
    const baseline = openFds();
    const ca = await Deno.readTextFile(certs.caFile);
    const conns: Deno.TlsConn[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        const c = await Deno.connectTls({
          hostname: "127.0.0.1",
          port: k.provider.address.port,
          caCerts: [ca],
        });
        await c.handshake();
        conns.push(c);
      }
      const timeouts = () => k.logger.find("warn", "closing connection: read timeout").length;
      await eventually("the provider to close them", () => timeouts() === 5);
      await eventually("the provider to forget them", () => k.provider.connectionCount === 0);
      // Only the callers' own sockets are left.
      await eventually("the provider's sockets to be freed", () => openFds() <= baseline + 5);
    } finally {
      for (const c of conns) closeQuietly(c);
    }
  },
});
