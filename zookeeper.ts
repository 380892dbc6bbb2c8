/**
 * ZooKeeper service discovery: the registry that announces providers as ephemeral znodes and
 * resolves callers' services from them (layout and failure behaviour: docs/zookeeper.md). The
 * ZooKeeper client (`npm:node-zookeeper-client`) is loaded when the registry first connects,
 * so importing this module costs nothing for programs that do not use it.
 *
 * @example
 * ```ts ignore
 * import { RpcProvider } from "./mod.ts";
 * import { ZooKeeperRegistry } from "./zookeeper.ts";
 *
 * const registry = new ZooKeeperRegistry({ connect: "127.0.0.1:2181" });
 * const provider = new RpcProvider({ port: 8000, registry });
 * await provider.run();
 * ```
 *
 * @module
 */
export {
  ZooKeeperRegistry,
  type ZooKeeperRegistryOptions,
  type ZooKeeperSessionStats,
} from "./src/registry/zookeeper/zookeeper_registry.ts";
export { type ZooKeeperAclEntry, ZooKeeperPerms } from "./src/registry/zookeeper/zk_acl.ts";
