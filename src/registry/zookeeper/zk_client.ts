/**
 * Loads node-zookeeper-client on first use (private): `await loadZooKeeperClient()` before the
 * first session, then `zookeeper` is the module. Importing the registry does not load it.
 *
 * @module
 */
import { errorMessage } from "../../util/error_message.ts";
import { Code, RpcError } from "../../errors.ts";
import { tolerateUnknownCodes } from "./zk_client_patches.ts";

/**
 * The node-zookeeper-client module (untyped), set by {@linkcode loadZooKeeperClient}; read
 * only after it resolved (a session exists, or an ACL was built).
 */
// deno-lint-ignore no-explicit-any
export let zookeeper: any;

let loading: Promise<void> | undefined;

/** Imports node-zookeeper-client once and applies the repairs of zk_client_patches.ts. */
export function loadZooKeeperClient(): Promise<void> {
  loading ??= import("../../deps_zookeeper.ts").then(
    (m) => {
      zookeeper = m.zookeeper;
      tolerateUnknownCodes(zookeeper);
    },
    (err) => {
      const why = errorMessage(err);
      throw new RpcError(
        Code.FAILED_PRECONDITION,
        `cannot load the ZooKeeper client npm:node-zookeeper-client: ${why}`,
        { cause: err },
      );
    },
  );
  return loading;
}
