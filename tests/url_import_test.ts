import assert from "node:assert/strict";

const REPO = new URL("../", import.meta.url);

const TYPES: Record<string, string> = {
  ".ts": "application/typescript; charset=utf-8",
  ".js": "application/javascript; charset=utf-8",
  ".json": "application/json",
  ".proto": "text/plain; charset=utf-8",
};

/** Serves files of the repository read-only; 404 for anything outside it or missing. */
function serveRepo(): Deno.HttpServer<Deno.NetAddr> & { requests: string[] } {
  const requests: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      const path = decodeURIComponent(new URL(req.url).pathname);
      requests.push(path);
      if (path.split("/").includes("..")) return new Response("bad path", { status: 400 });
      const file = new URL(`.${path}`, REPO);
      try {
        const body = await Deno.readFile(file);
        const ext = path.slice(path.lastIndexOf("."));
        return new Response(body, {
          headers: { "content-type": TYPES[ext] ?? "application/octet-stream" },
        });
      } catch {
        return new Response("not found", { status: 404 });
      }
    },
  );
  return Object.assign(server, { requests });
}

Deno.test("mod.ts imported by URL serves and calls a service in a fresh deno process", async () => {
  const server = serveRepo();
  const dir = await Deno.makeTempDir({ prefix: "mprpc_url_" });
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const script = `
import { Code, loadProto, RpcChannel, RpcError, RpcProvider } from "${base}/mod.ts";

const root = await loadProto("${base}/tests/_fixtures/kitchen.proto");
const service = root.lookupService("kitchen.Kitchen");
const provider = new RpcProvider({ host: "127.0.0.1", port: 0 });
provider.notifyService(service, {
  Echo: (req) => ({ ...req, text: "echo: " + req.text }),
  Fail: () => { throw new RpcError(Code.NOT_FOUND, "nothing here"); },
});
await provider.start();
const channel = new RpcChannel({ address: provider.address, timeoutMs: 5000 });
const kitchen = channel.stub(service);
const res = await kitchen.Echo({ text: "from a URL import", u64: 18446744073709551615n });
let failure = "";
try { await kitchen.fail({}); } catch (e) { failure = e.codeName + " " + e.message; }
console.log(JSON.stringify({ text: res.text, u64: res.u64, failure }));
await channel.close();
await provider.close();
`;
    const scriptPath = `${dir}/main.ts`;
    await Deno.writeTextFile(scriptPath, script);
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-config",
        "--no-lock",
        `--reload=${base}`,
        `--allow-import=127.0.0.1:${server.addr.port}`,
        "--allow-net=127.0.0.1",
        "--allow-read",
        "--allow-env",
        scriptPath,
      ],
      cwd: dir,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout).trim();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, `child failed (code ${out.code}):\n${stderr}`);
    assert.deepEqual(JSON.parse(stdout.split("\n").at(-1)!), {
      text: "echo: from a URL import",
      u64: "18446744073709551615",
      failure: "NOT_FOUND nothing here",
    });
    assert.ok(server.requests.includes("/mod.ts"));
    assert.ok(server.requests.includes("/src/deps.ts"), "the third-party pins came over HTTP too");
    assert.ok(server.requests.includes("/tests/_fixtures/kitchen.proto"));
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scripts/gen.ts run by URL writes modules that import that URL's mod.ts, and they serve calls with no read permission", async () => {
  const server = serveRepo();
  const dir = await Deno.makeTempDir({ prefix: "mprpc_url_gen_" });
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const run = (args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--no-config",
          "--no-lock",
          `--reload=${base}`,
          `--allow-import=127.0.0.1:${server.addr.port}`,
          ...args,
        ],
        cwd: dir,
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
    const proto = new URL("tests/_fixtures/kitchen.proto", REPO).pathname;
    const gen = await run([
      `--allow-read=${proto}`,
      `--allow-write=${dir}`,
      `${base}/scripts/gen.ts`,
      "--out",
      dir,
      proto,
    ]);
    assert.equal(gen.code, 0, new TextDecoder().decode(gen.stderr));
    const module = await Deno.readTextFile(`${dir}/kitchen_pb.ts`);
    assert.match(module, new RegExp(`from "${base}/mod\\.ts";`));
    await Deno.writeTextFile(
      `${dir}/main.ts`,
      `import { RpcChannel, RpcProvider } from "${base}/mod.ts";
import { Kitchen } from "./kitchen_pb.ts";
await using provider = new RpcProvider({ host: "127.0.0.1", port: 0 });
provider.notifyService(Kitchen, {
  Echo: (req) => ({ text: "typed: " + req.text }),
  Sleep: () => ({}),
  Fail: () => ({}),
  Unimplemented: () => ({}),
});
await provider.start();
await using channel = new RpcChannel({ address: provider.address });
console.log((await channel.stub(Kitchen).Echo({ text: "hi" })).text);
`,
    );
    const out = await run(["--allow-net=127.0.0.1", "--no-prompt", "main.ts"]);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.equal(new TextDecoder().decode(out.stdout).trim(), "typed: hi");
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
