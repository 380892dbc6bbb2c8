/**
 * `workerModule` of the fidelity provider: serves `fidelity.Fidelity` on every event loop.
 *
 * @module
 */
import type { RpcProvider } from "../../src/server/rpc_provider.ts";
import { FIDELITY_IMPL, fidelityRoot } from "./fidelity.ts";

/** Adds `fidelity.Fidelity` to `provider`. */
export default async function setup(provider: RpcProvider): Promise<void> {
  const root = await fidelityRoot();
  provider.notifyService(root.lookupService("fidelity.Fidelity"), FIDELITY_IMPL);
}
