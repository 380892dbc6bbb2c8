/**
 * `deno task demo`: runs the user and friend providers and their callers end to end, as
 * separate processes, and prints the calls and results.
 *
 * Without ZooKeeper (the default) callers find providers through the embedded static registry
 * (the provider address). With `ZK=host:port deno task demo` (or `--zk host:port`) providers
 * register in ZooKeeper and callers discover them there.
 *
 * @module
 */

import { flagProblem } from "./_cli.ts";
import { parseArgs } from "node:util";

const root = new URL("../", import.meta.url);

let zk: string | undefined;
try {
  const { values } = parseArgs({
    args: Deno.args,
    options: { zk: { type: "string" }, help: { type: "boolean", short: "h" } },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log("usage: deno task demo [--zk host:port]   (or ZK=host:port deno task demo)");
    Deno.exit(0);
  }
  zk = values.zk ?? Deno.env.get("ZK");
  if (zk !== undefined && !/^(\[[0-9A-Fa-f:.]+\]|[^:\s]+):\d{1,5}$/.test(zk)) {
    throw new TypeError(`--zk: "${zk}" is not host:port (like 127.0.0.1:2181)`);
  }
} catch (e) {
  console.error(`demo: ${flagProblem(e)} (see --help)`);
  Deno.exit(2);
}

/** The examples' permissions, as the README gives them (plus the ZooKeeper host). */
function permissions(): string[] {
  const hosts = ["127.0.0.1"];
  if (zk) hosts.push(zk.slice(0, zk.lastIndexOf(":")).replace(/^\[|\]$/g, ""));
  return [`--allow-net=${hosts.join(",")}`, "--allow-read=examples"];
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function runExample(name: string): Promise<boolean> {
  const port = freePort();
  const common = ["--host", "127.0.0.1", "--port", String(port)];
  if (zk) common.push("--zk", zk);
  const script = (s: string) => new URL(`examples/${name}/${s}.ts`, root).pathname;
  console.log(
    `\n=== examples/${name}: provider on 127.0.0.1:${port}${
      zk ? `, ZooKeeper ${zk}` : ", static registry"
    } ===`,
  );
  const provider = new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions(), script("provider"), ...common],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = provider.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let ok = false;
  try {
    // Wait for the provider to say it listens.
    let buffered = "";
    const deadline = Date.now() + 30_000;
    while (!buffered.includes("listening on")) {
      if (Date.now() > deadline) throw new Error("provider did not start within 30 s");
      const { value, done } = await lines.read();
      if (done) throw new Error("provider exited before listening");
      buffered += value;
    }
    console.log(`[provider] ${buffered.trim()}`);
    const caller = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...permissions(), script("caller"), ...common],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    for (const line of new TextDecoder().decode(caller.stdout).trimEnd().split("\n")) {
      console.log(`[caller]   ${line}`);
    }
    ok = caller.success;
  } finally {
    provider.kill("SIGTERM");
    // Drain the provider's remaining output and wait for it to exit.
    for (;;) {
      const { value, done } = await lines.read();
      if (done) break;
      for (const l of value.trimEnd().split("\n")) if (l) console.log(`[provider] ${l}`);
    }
    await provider.status;
  }
  return ok;
}

let allOk = true;
try {
  for (const name of ["user", "friend"]) allOk = (await runExample(name)) && allOk;
} catch (e) {
  console.error(`demo: ${e instanceof Error ? e.message : String(e)}`);
  Deno.exit(1);
}
console.log(allOk ? "\ndemo: all calls succeeded" : "\ndemo: some calls FAILED");
if (!allOk) Deno.exit(1);
