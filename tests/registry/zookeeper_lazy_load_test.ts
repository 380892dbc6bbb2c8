/**
 * The ZooKeeper client is loaded only when a ZooKeeperRegistry connects: a program in a folder
 * with a package.json (Deno then resolves npm packages from its node_modules only) that lists
 * protobufjs and @opentelemetry/api but not node-zookeeper-client runs with the static registry, and a ZooKeeper
 * registry there fails with a clear error instead of the program failing to start.
 */
import assert from "node:assert/strict";

const MOD = new URL("../../mod.ts", import.meta.url).href;

/**
 * A temp folder with a package.json listing what mod.ts always loads (protobufjs and the
 * OpenTelemetry API), installed from Deno's cache.
 */
async function packageJsonFolder(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "mprpc_pkgjson_" });
  await Deno.writeTextFile(
    `${dir}/package.json`,
    JSON.stringify({
      name: "user-app",
      type: "module",
      dependencies: { protobufjs: "7.5.4", "@opentelemetry/api": "1.9.0" },
    }),
  );
  const install = await new Deno.Command(Deno.execPath(), {
    args: ["install"],
    cwd: dir,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(install.success, new TextDecoder().decode(install.stderr));
  return dir;
}

async function runIn(dir: string, source: string): Promise<{ code: number; out: string }> {
  await Deno.writeTextFile(`${dir}/main.ts`, source);
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=127.0.0.1", "--allow-read", "--allow-env", "main.ts"],
    cwd: dir,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
}

Deno.test("a static-registry program runs where node-zookeeper-client is not installed", async () => {
  const dir = await packageJsonFolder();
  try {
    const { code, out } = await runIn(
      dir,
      `import { parseProto, RpcChannel, RpcProvider, StaticRegistry } from "${MOD}";
const service = parseProto(\`syntax = "proto3"; package t;
  message M { string s = 1; }
  service S { rpc Echo(M) returns (M); }\`).lookupService("t.S");
const provider = new RpcProvider({ host: "127.0.0.1", port: 0 });
provider.notifyService(service, { Echo: (m) => m });
await provider.start();
const registry = new StaticRegistry({ "t.S": [provider.address] });
const channel = new RpcChannel({ registry });
const reply = await channel.stub(service).Echo!({ s: "static" });
console.log("reply:" + reply.s);
await channel.close();
await provider.close();
`,
    );
    assert.equal(code, 0, out);
    assert.match(out, /reply:static/);
    assert.doesNotMatch(out, /node-zookeeper-client/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a ZooKeeper registry without its client installed fails with FAILED_PRECONDITION", async () => {
  const dir = await packageJsonFolder();
  try {
    const { code, out } = await runIn(
      dir,
      `import { ZooKeeperRegistry } from "${MOD}";
const zk = new ZooKeeperRegistry({ connect: "127.0.0.1:1", connectTimeoutMs: 2000 });
try {
  await zk.resolve("t.S");
  console.log("resolved?");
} catch (e) {
  console.log("error:" + e.codeName + ":" + e.message);
} finally {
  await zk.close();
}
`,
    );
    assert.equal(code, 0, out);
    assert.match(out, /error:FAILED_PRECONDITION:.*cannot load the ZooKeeper client/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
