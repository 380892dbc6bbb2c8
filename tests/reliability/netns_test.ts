/**
 * Several hosts on one machine: providers in their own network namespaces, reached over veth
 * links on private test subnets, and a link cut while calls run. Unlike a killed process, a cut
 * link sends no RST and no FIN: only keepalive pings and connect timeouts can tell.
 *
 * Runs only where network namespaces can be created (Linux, root, `ip`).
 */
import assert from "node:assert/strict";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { Code, RpcError } from "../../src/errors.ts";
import { StaticRegistry } from "../../src/registry/static_registry.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { kitchenService, type KitchenStub } from "../_helpers/kitchen.ts";
import { createTestHosts, ip, netnsAvailable, removeTestHosts } from "../_helpers/netns.ts";
import { type ProviderProcess, spawnProvider } from "../_helpers/provider_process.ts";
import { makeTestCerts, opensslAvailable } from "../_helpers/test_certs.ts";

const canRunNetns = await netnsAvailable();
if (!canRunNetns) {
  console.log(
    "netns_test: skipped: network namespaces need Linux, root and the `ip` command " +
      "(`ip netns add` failed here)",
  );
}
const canRunTls = canRunNetns && await opensslAvailable();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test({
  name: "netns: calls fail over when the link to one provider's host is cut",
  ignore: !canRunNetns,
  async fn() {
    const hosts = await createTestHosts([11, 12]);
    const procs: ProviderProcess[] = [];
    try {
      procs.push(
        ...await Promise.all(
          hosts.map((h, i) => spawnProvider({ name: `host${i}`, host: h.address, netns: h.netns })),
        ),
      );
      const logger = new CaptureLogger();
      const registry = new StaticRegistry({ "kitchen.Kitchen": procs.map((p) => p.address) });
      await using channel = new RpcChannel({
        registry,
        logger,
        timeoutMs: 2000,
        keepaliveMs: 200,
        keepaliveTimeoutMs: 300,
        connectTimeoutMs: 300,
      });
      const stub = channel.stub<KitchenStub>(await kitchenService());
      const labels = new Map<string, number>();
      const failures: string[] = [];
      let cutAt = Infinity;
      let stop = false;
      const loop = async (l: number) => {
        for (let i = 0; !stop; i++) {
          const token = `${l}.${i}`;
          try {
            const res = await stub.Echo({ text: token }, { retries: 1 });
            assert.equal(res.text, token);
            const who = (res.inner as { label: string }).label;
            if (Date.now() > cutAt + 1000) labels.set(who, (labels.get(who) ?? 0) + 1);
          } catch (e) {
            failures.push(`${token}: ${e instanceof RpcError ? e.codeName : ""} ${e}`);
          }
          await sleep(10);
        }
      };
      // Warm up: both hosts answer.
      const warm = new Set(
        await Promise.all(
          Array.from(
            { length: 8 },
            async (_, i) => ((await stub.Echo({ text: `w${i}` })).inner as { label: string }).label,
          ),
        ),
      );
      assert.deepEqual([...warm].sort(), ["host0", "host1"]);

      const loops = Array.from({ length: 10 }, (_, l) => loop(l));
      await sleep(800);
      await ip("link", "set", hosts[0]!.rootIf, "down"); // cut host0 off
      cutAt = Date.now();
      await sleep(2500);
      stop = true;
      await Promise.all(loops);

      assert.deepEqual(failures, [], "calls with retries: 1 failed");
      assert.deepEqual([...labels.keys()], ["host1"], "calls still reached the cut-off host");
      assert.ok(logger.find("warn", "not answering pings").length >= 1, "keepalive never fired");
      console.log(
        `netns: link to ${hosts[0]!.address} cut; ${labels.get("host1")} calls answered by ` +
          `${hosts[1]!.address} afterwards, none failed`,
      );
    } finally {
      await Promise.all(procs.map((p) => p.stop(1000)));
      await removeTestHosts(hosts);
    }
  },
});

// Regression guard for a fixed bug (src/transport/listen.ts connect()): the TLS path calls Deno.connectTls without the
// abort signal, so connectTimeoutMs is ignored, and RpcChannel #connection does not race the
// call deadline either: a TLS call to a host that drops packets ends only when the kernel gives
// up (here ~3 s of failed ARP; across a real network ~2 minutes of SYN retries), whatever its
// deadline. Fix: connect TCP with the signal, then Deno.startTls(tcp, { hostname, caCerts }).
Deno.test({
  name: "netns: a call to an unreachable host ends at its deadline, over TCP and over TLS",
  ignore: !canRunTls,
  async fn() {
    const hosts = await createTestHosts([13]);
    await using certs = await makeTestCerts();
    try {
      const h = hosts[0]!;
      // The far end goes dark: packets to it vanish without an answer.
      await ip("netns", "exec", h.netns, "ip", "link", "set", h.nsIf, "down");
      const service = await kitchenService();
      for (const tls of [undefined, { caFiles: [certs.caFile] }]) {
        await using channel = new RpcChannel({
          address: `${h.address}:9`,
          timeoutMs: 500,
          logger: new CaptureLogger(),
          tls,
        });
        const t0 = Date.now();
        await assert.rejects(channel.stub<KitchenStub>(service).Echo({ text: "x" }), (e) => {
          assert.ok(e instanceof RpcError);
          assert.ok(
            e.code === Code.DEADLINE_EXCEEDED || e.code === Code.UNAVAILABLE,
            `${e.code} ${e.message}`,
          );
          return true;
        });
        const ms = Date.now() - t0;
        assert.ok(
          ms < 500 + 400,
          `${tls ? "TLS" : "TCP"} call with a 500 ms deadline took ${ms} ms`,
        );
      }
    } finally {
      await removeTestHosts(hosts);
    }
  },
});
