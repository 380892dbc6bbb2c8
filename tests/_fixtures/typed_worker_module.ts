/**
 * A worker module (`RpcProviderOptions.workerModule`) adding the generated `kitchen.Kitchen`
 * definition with `notifyService(Kitchen, impl)` on every event loop. Echo answers with its
 * request, its `text` replaced by the name of the event loop that ran it (`main`, or the
 * Worker's name).
 *
 * @module
 */
import type { RpcProvider } from "../../mod.ts";
import { Kitchen } from "../typed/_gen/kitchen_pb.ts";

const inWorker = "WorkerGlobalScope" in globalThis;
const loop = inWorker ? (self as unknown as { name: string }).name : "main";

/** Adds the typed Kitchen service to `provider`. */
export default function setup(provider: RpcProvider): void {
  provider.notifyService(Kitchen, {
    Echo: (req) => ({ ...req, text: loop }),
    Sleep: (req) => ({ token: req.token }),
    Fail: () => ({}),
    Unimplemented: () => ({}),
  });
}
