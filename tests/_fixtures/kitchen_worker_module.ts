/**
 * A worker module (`RpcProviderOptions.workerModule`) serving `kitchen.Kitchen`'s `Echo` on
 * every event loop of a provider with `workers`. Its module URL's query configures it:
 *
 * - `runs=<file>`: every Echo handler run appends `<loop> <text>\n` to that file, synchronously,
 *   before answering (so a test reads every run from the main thread, whichever loop ran it);
 * - `token=<t>`: `setup(provider)` adds `tokenAuth` accepting only `t`;
 * - `fail=worker`: `setup(provider)` throws inside Workers (not on the main thread).
 * - `hang=worker`: `setup(provider)` never finishes inside Workers.
 * - `reject=<text>`: Echo fails with `FAILED_PRECONDITION` "rejected on <loop>" when the request's
 *   text is `<text>`.
 * - `keep=1`: an Echo whose text is `keep` stores its request's `data` as received (no copy), and
 *   every Echo answers with the stored bytes in `data` as they are when it answers: with
 *   `lendRequestBytes`, a view the connection has read into again since.
 *
 * Echo answers with the name of the event loop that ran it (`main`, or the Worker's name).
 *
 * @module
 */
import { Code, RpcError } from "../../src/errors.ts";
import type { RpcProvider } from "../../src/server/rpc_provider.ts";
import { tokenAuth } from "../../src/server/interceptor.ts";
import { kitchenService } from "../_helpers/kitchen.ts";

const query = new URL(import.meta.url).searchParams;
const inWorker = "WorkerGlobalScope" in globalThis;

/** The event loop this module runs on: `main` or the Worker's name. */
export const LOOP = inWorker ? (self as unknown as { name: string }).name : "main";

/** Adds Echo (and, with `token`, tokenAuth) to `provider`. */
export default async function setup(provider: RpcProvider): Promise<void> {
  if (query.get("fail") === "worker" && inWorker) throw new Error(`setup refused on ${LOOP}`);
  if (query.get("hang") === "worker" && inWorker) await new Promise(() => {});
  const runs = query.get("runs");
  const token = query.get("token");
  const reject = query.get("reject");
  const keep = query.get("keep") !== null;
  let kept: Uint8Array = new Uint8Array();
  provider.notifyService(await kitchenService(), {
    Echo(req) {
      if (runs !== null) Deno.writeTextFileSync(runs, `${LOOP} ${req.text}\n`, { append: true });
      if (reject !== null && req.text === reject) {
        throw new RpcError(Code.FAILED_PRECONDITION, `rejected on ${LOOP}`);
      }
      if (keep) {
        if (req.text === "keep") kept = req.data as Uint8Array;
        return { text: LOOP, data: kept };
      }
      return { text: LOOP };
    },
  });
  // Added after the service on purpose: interceptors apply whatever the order.
  if (token !== null) provider.use(tokenAuth({ verify: (t) => t === token }));
}
