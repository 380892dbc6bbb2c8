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
import { streamImpl, streamService, type StreamsStub } from "../_helpers/stream_service.ts";

type EchoStub = Record<"Say" | "Fail", StubMethod<Msg, Msg>>;

const chromium = chromiumPath();
const zk = await zkAvailable();
const ignore = chromium === undefined || !zk;
if (chromium === undefined) {
  console.log("console_page_test: skipped, no chromium (apt-get install chromium; .ci/run does)");
} else if (!zk) console.log("console_page_test: skipped, no ZooKeeper server available");

Deno.test({
  name:
    "the console page charts a called method's rate, shows streams' message counts and the loop of failed calls, and lists ZooKeeper's providers",
  ignore,
  async fn() {
    await using server = await startZooKeeper();
    const registries = [0, 1].map(() => new ZooKeeperRegistry({ connect: server.connect }));
    const providers = registries.map((registry, i) =>
      new RpcProvider({ registry, ...(i === 0 ? { admin: { port: 0 } } : {}) })
        .notifyService(echoService, echoImpl)
    );
    providers[0]!.notifyService(streamService, streamImpl);
    let stop = false;
    let load: Promise<void> | undefined;
    let held: Promise<void> | undefined;
    const release = new AbortController();
    let target: RpcChannel | undefined;
    const zkClient = await connectZkClient(server.connect);
    try {
      for (const p of providers) await p.start();
      target = new RpcChannel({ address: providers[0]!.address });
      const stub = target.stub<EchoStub>(echoService);
      const streams = target.stub<StreamsStub>(streamService);
      // One stream held open until the end (no deadline), so the page has an open stream to show.
      held = (async () => {
        for await (
          const _ of streams.Count({ n: 1, holdMs: 120_000 }, {
            timeoutMs: 0,
            signal: release.signal,
          })
        ) {
          // the one message; then the stream stays open until release aborts it
        }
      })().catch(() => {});
      load = (async () => {
        let n = 0;
        while (!stop) {
          await stub.Say({ text: "load" });
          if (++n % 10 === 0) await stub.Fail({ code: 14 }).catch(() => {});
          if (n % 5 === 0) {
            for await (const _ of streams.Count({ n: 3 })) { /* 3 messages sent */ }
            for await (const _ of streams.Chat([{ n: 1 }, { n: 2 }])) { /* 2 each way */ }
          }
          await new Promise((r) => setTimeout(r, 2));
        }
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

      // Streams: open streams, messages sent and received (totals and rates), as rendered.
      const chat = await eventually(
        "the page to show Chat's messages and their rates",
        () =>
          browser.evaluate<Record<string, string> | null>(`
          (() => {
            const c = document.querySelector('[data-method="obs.Streams/Chat"]');
            if (!c || !(Number(c.dataset.messagesSentRate) > 0)) return null;
            const path = c.querySelector('svg[data-chart="messages"] path')?.getAttribute("d");
            return { ...c.dataset, path: path ?? "", text: c.querySelector(".nums").textContent };
          })()`),
        30_000,
        250,
      );
      assert.ok(Number(chat["messagesSent"]) >= 2, JSON.stringify(chat));
      assert.equal(chat["messagesSent"], chat["messagesReceived"], "Chat echoes every message");
      assert.ok(Number(chat["messagesReceivedRate"]) > 0, JSON.stringify(chat));
      assert.match(chat["path"]!, /^M\d+ [\d.]+/, "a messages chart");
      assert.match(chat["text"]!, /messages sent \d+ \([\d.]+\/s\)received \d+ \([\d.]+\/s\)/);
      const count = await browser.evaluate<Record<string, string>>(
        `({ ...document.querySelector('[data-method="obs.Streams/Count"]').dataset })`,
      );
      assert.ok(
        Number(count["streamsOpen"]) >= 1,
        `the held stream is open: ${JSON.stringify(count)}`,
      );
      // The provider sends 3 messages per Count and 1 on the held one; it receives 1 per stream.
      assert.ok(
        Number(count["messagesSent"]) > Number(count["messagesReceived"]),
        JSON.stringify(count),
      );
      const open = await browser.evaluate<string>(`document.getElementById("streams").textContent`);
      assert.ok(Number(open) >= 1, `open streams ${open}`);
      const unary = await browser.evaluate<string>(
        `document.querySelector('[data-method="obs.Echo/Say"]').dataset.messagesSent ?? "none"`,
      );
      assert.equal(unary, "none", "a unary method shows no message counts");

      // The failed calls, each with the loop that served it (this provider has one: main).
      const loops = await eventually(
        "the page to list failed calls with their loop",
        async () => {
          const rows = await browser.evaluate<string[]>(
            `[...document.querySelectorAll("#rpcz tr[data-code]")]
            .map((r) => r.dataset.loop + " " + r.children[2].textContent)`,
          );
          return rows.length > 0 ? rows : null;
        },
        20_000,
        250,
      );
      assert.ok(loops.every((r) => r === "0 main"), loops.join());

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
        [
          ...providers.map((p) => `obs.Echo 127.0.0.1:${p.address.port}`),
          `obs.Streams 127.0.0.1:${providers[0]!.address.port}`,
        ].sort(),
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
      release.abort();
      await held;
      await target?.close();
      await zkClient.close();
      for (const p of providers) await p.close();
      for (const r of registries) await r.close();
    }
  },
});
