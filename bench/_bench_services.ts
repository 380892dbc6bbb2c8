/**
 * The services of the benchmark provider, as a `workerModule` for `RpcProvider`'s `workers`
 * option (its default export runs in the main thread and in every Worker) and as
 * {@linkcode addServices} for the single-threaded provider.
 *
 * @module
 */
import type { Logger, RpcProvider } from "../mod.ts";
import { loadShapes, type Shapes } from "./_shapes.ts";

/**
 * Adds `fixbug.UserServiceRpc.Login` and `mprpcbench.Bench.{Echo,Wait}` to `provider`; with a
 * `logger`, Login and Echo log one INFO line per call.
 *
 * @example
 * ```ts ignore
 * addServices(provider, await loadShapes(), { waitMs: 200 });
 * ```
 */
export function addServices(
  provider: RpcProvider,
  shapes: Shapes,
  options: { logger?: Logger | undefined; waitMs?: number } = {},
): void {
  const { logger, waitMs = 200 } = options;
  const small = shapes.small.respond;
  const big = shapes["64k"].respond;
  provider.notifyService(shapes.user, {
    Login: logger
      ? (req) => {
        logger.info("login", { user: req.name.length, method: "Login" });
        return small(req);
      }
      : small,
  });
  provider.notifyService(shapes.bench, {
    Echo: logger
      ? (req) => {
        logger.info("echo", { bytes: req.data.length, method: "Echo" });
        return big(req);
      }
      : big,
    Wait: () => new Promise((resolve) => setTimeout(() => resolve({}), waitMs)),
  });
}

/** `setup(provider)` for `workerModule`: the services without logging, `Wait` of 200 ms. */
export default async function setup(provider: RpcProvider): Promise<void> {
  addServices(provider, await loadShapes());
}
