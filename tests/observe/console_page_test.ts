/**
 * The console page in a real browser: headless Chromium loads the admin listener's page while
 * calls run, and the test reads what the page's script rendered (data attributes it writes
 * into the DOM) and compares the provider list with what ZooKeeper holds.
 */
import assert from "node:assert/strict";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { RpcProvider } from "../../src/server/rpc_provider.ts";
import type { StubMethod } from "../../src/client/call_options.ts";
import { ZooKeeperRegistry } from "../../src/registry/zookeeper/zookeeper_registry.ts";
import { connectZkClient } from "../../src/testing/_zk_client.ts";
import { startZooKeeper, zkAvailable } from "../../src/testing/mod.ts";
import { echoImpl, echoService, type Msg } from "../_helpers/echo_service.ts";
import { eventually } from "../_helpers/eventually.ts";
import { chromiumPath, HeadlessChromium } from "../_helpers/headless_chromium.ts";

type EchoStub = Record<"Say" | "Fail", StubMethod<Msg, Msg>>;

const chromium = chromiumPath();
const zk = await zkAvailable();
const ignore = chromium === undefined || !zk;
if (chromium === undefined) {
  console.log("console_page_test: skipped, no chromium (apt-get install chromium; .ci/run does)");
} else if (!zk) console.log("console_page_test: skipped, no ZooKeeper server available");

Deno.test({
  name: "the console page charts a called method's rate and lists ZooKeeper's providers",
  ignore,
  async fn() {
    await using server = await startZooKeeper();
    const registries = [0, 1].map(() => new ZooKeeperRegistry({ connect: server.connect }));
    const providers = registries.map((registry, i) =>
      new RpcProvider({ registry, ...(i === 0 ? { admin: { port: 0 } } : {}) })
        .notifyService(echoService, echoImpl)
    );
    let stop = false;
    let load: Promise<void> | undefined;
    const zkClient = await connectZkClient(server.connect);
    try {
      for (const p of providers) await p.start();
      const target = new RpcChannel({ address: providers[0]!.address });
      const stub = target.stub<EchoStub>(echoService);
      load = (async () => {
        let n = 0;
        while (!stop) {
          await stub.Say({ text: "load" });
          if (++n % 10 === 0) await stub.Fail({ code: 14 }).catch(() => {});
          await new Promise((r) => setTimeout(r, 2));
        }
        await target.close();
      })();
      const url = `http://127.0.0.1:${providers[0]!.adminAddress!.port}/`;
      await using browser = await HeadlessChromium.launch(chromium!, url);

      // The chart of Say: a non-zero rate, as the page's script rendered it.
      const say = await eventually(
        "the page to chart a non-zero rate for Say",
        () =>
          browser.evaluate<{ rate: number; samples: number; path: string; p99: string } | null>(`
          (() => {
            const c = document.querySelector('[data-method="obs.Echo/Say"]');
            if (!c || !(Number(c.dataset.rate) > 0) || Number(c.dataset.samples) < 3) return null;
            const path = c.querySelector('svg[data-chart="rate"] path').getAttribute("d");
            return { rate: Number(c.dataset.rate), samples: Number(c.dataset.samples), path,
              p99: c.dataset.p99Ms };
          })()`),
        30_000,
        250,
      );
      assert.ok(say.rate > 0);
      assert.match(say.path, /^M\d+ [\d.]+(L\d+ [\d.]+)+$/, "a line through the samples");
      assert.ok(Number(say.p99) > 0, `p99 ${say.p99} ms`);
      const fail = await browser.evaluate<string>(
        `document.querySelector('[data-method="obs.Echo/Fail"]')?.dataset.errorRate ?? ""`,
      );
      assert.ok(fail !== "", "Fail has a card with its error rate");
      const connections = await browser.evaluate<string>(
        `document.getElementById("connections").textContent`,
      );
      assert.ok(Number(connections) >= 1, `connections ${connections}`);

      // The provider list: what ZooKeeper holds, read with a plain client.
      const inZooKeeper: string[] = [];
      for (const service of await zkClient.getChildren("/mprpc")) {
        for (const p of await zkClient.getChildren(`/mprpc/${service}/providers`)) {
          inZooKeeper.push(`${service} ${p}`);
        }
      }
      inZooKeeper.sort();
      assert.deepEqual(
        inZooKeeper,
        providers.map((p) => `obs.Echo 127.0.0.1:${p.address.port}`).sort(),
      );
      const shown = await eventually(
        "the page to list the providers ZooKeeper holds",
        async () => {
          const rows = await browser.evaluate<string[]>(
            `[...document.querySelectorAll("tr[data-provider]")]
            .map((r) => r.dataset.service + " " + r.dataset.provider).sort()`,
          );
          return JSON.stringify(rows) === JSON.stringify(inZooKeeper) ? rows : null;
        },
        20_000,
        250,
      );
      assert.deepEqual(shown, inZooKeeper);

      const dir = await Deno.makeTempDir({ prefix: "mprpc_console_" });
      const png = `${dir}/console.png`;
      await Deno.writeFile(png, await browser.screenshot());
      console.log(`console page screenshot: ${png}`);
    } finally {
      stop = true;
      await load;
      await zkClient.close();
      for (const p of providers) await p.close();
      for (const r of registries) await r.close();
    }
  },
});
