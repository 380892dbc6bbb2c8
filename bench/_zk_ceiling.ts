/**
 * The raw capacity of a ZooKeeper ensemble as seen from one Deno process: `clients` plain
 * node-zookeeper-clients, each keeping `depth` requests outstanding for `seconds`, first creating
 * (and then deleting) small ephemeral nodes — writes, each a transaction through the leader —
 * then reading one node's data — reads, answered by the member each client is connected to.
 * Used by bench/zk_scale.ts.
 *
 * @module
 */
import { Buffer } from "../src/deps.ts";
import { zookeeper } from "../src/deps_zookeeper.ts";
import { connectZkClient, type ZkClient } from "../src/testing/_zk_client.ts";

/** Operations per second measured by {@linkcode zkCeiling}. */
export interface ZkCeiling {
  writesPerSecond: number;
  readsPerSecond: number;
}

/**
 * Measures writes/s and reads/s.
 *
 * @example
 * ```ts ignore
 * const { writesPerSecond } = await zkCeiling("127.0.0.1:2181", { clients: 8, depth: 32 });
 * ```
 */
export async function zkCeiling(
  connect: string,
  options: { clients?: number; depth?: number; seconds?: number } = {},
): Promise<ZkCeiling> {
  const members = connect.split(",");
  const n = options.clients ?? 6;
  const depth = options.depth ?? 32;
  const ms = (options.seconds ?? 5) * 1000;
  const clients: ZkClient[] = [];
  try {
    for (let i = 0; i < n; i++) clients.push(await connectZkClient(members[i % members.length]!));
    await clients[0]!.mkdirp("/ceiling");
    await clients[0]!.create("/ceiling/read", Buffer.alloc(180));
    const run = async (op: (c: ZkClient, k: number) => Promise<unknown>): Promise<number> => {
      let done = 0;
      const end = Date.now() + ms;
      let seq = 0;
      await Promise.all(clients.flatMap((c) =>
        Array.from({ length: depth }, async () => {
          while (Date.now() < end) {
            await op(c, seq++);
            done++;
          }
        })
      ));
      return done / (ms / 1000);
    };
    const data = Buffer.alloc(180);
    const writesPerSecond = await run((c, k) =>
      c.create(`/ceiling/w${k}`, data, zookeeper.CreateMode.EPHEMERAL)
    );
    const readsPerSecond = await run((c) => c.getData("/ceiling/read"));
    return { writesPerSecond, readsPerSecond };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}
