/**
 * A kitchen provider in a child process that runs itself out of file descriptors, for the test of
 * the accept loop's backoff. Run it under a low limit (`prlimit --nofile=256:256 deno run -A
 * tests/_helpers/fd_starved_provider.ts`). It prints JSON lines to stdout:
 *
 * 1. `{"port":N}` once it serves; with `--default-max-connections` (no `maxConnections` given)
 *    it then only serves until its stdin closes;
 * 2. `{"exhausted":N}` once it holds N extra descriptors and cannot open more (after 2.5 s:
 *    Deno itself panics when descriptors run out during its first seconds);
 * 3. after holding them `--hold-ms` (default 1500), it frees them, waits until
 *    `--expect-connections` (default 3) connections are open (at most 5 s) and until its stdin
 *    closes, then prints `{"acceptLines":A,"recoveredLines":R,"connections":C}` (A: WARN lines
 *    about failed accepts, R: lines saying accepting works again), closes and exits.
 *
 * @module
 */
import { RpcProvider } from "../../src/server/rpc_provider.ts";
import { CaptureLogger } from "./capture_logger.ts";
import { Events, kitchenImpl, kitchenService } from "./kitchen.ts";

const arg = (name: string, dflt: number) =>
  Number(Deno.args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt);
const holdMs = arg("hold-ms", 1500);
const expected = arg("expect-connections", 3);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const logger = new CaptureLogger();
const defaults = Deno.args.includes("--default-max-connections");
const provider = new RpcProvider({ logger, ...(defaults ? {} : { maxConnections: 100_000 }) });
provider.notifyService(await kitchenService(), kitchenImpl(new Events(), []));
await provider.start();
console.log(JSON.stringify({ port: provider.address.port }));
if (defaults) {
  for await (const _ of Deno.stdin.readable) {
    // serve until the parent closes stdin
  }
  await provider.close({ graceMs: 0 });
  Deno.exit(0);
}

await sleep(2500);
const held: Deno.FsFile[] = [];
try {
  for (;;) held.push(Deno.openSync("/dev/null"));
} catch {
  // EMFILE: out of descriptors, as intended
}
console.log(JSON.stringify({ exhausted: held.length }));
await sleep(holdMs);
for (const f of held.splice(0)) f.close();
for (let t = 0; t < 100 && provider.connectionCount < expected; t++) await sleep(50);
const connections = provider.connectionCount;
// The parent closes stdin once it has its answers.
for await (const _ of Deno.stdin.readable) {
  // nothing is sent on stdin
}
const count = (re: RegExp) => logger.lines.filter((l) => re.test(l.msg)).length;
console.log(JSON.stringify({
  acceptLines: count(/accept failed/),
  recoveredLines: count(/accepting connections again/),
  connections,
}));
await provider.close({ graceMs: 0 });
