/**
 * The original's friend example, provider side: FriendServiceRpc.GetFriendsList returns a
 * repeated list.
 *
 *   deno run -A examples/friend/provider.ts -i examples/friend/test.conf
 *
 * @module
 */
import { Code, loadProto, RpcError, RpcProvider } from "../../mod.ts";
import { onShutdown, setup, utf8 } from "../_shared.ts";

const env = await setup("provider");
const root = await loadProto(new URL("./friend.proto", import.meta.url));

const friends = new Map<number, string[]>([
  [1000, ["gao yang", "liu hong", "wang shuo"]],
]);

const provider = new RpcProvider({
  host: env.config.rpcServerIp,
  port: env.config.rpcServerPort,
  registry: env.zookeeper,
  logger: env.logger,
  maxMessageBytes: env.config.maxMessageBytes,
  // --legacy / legacy=true: also serve C++ mprpc callers on the same port.
  legacy: env.config.legacy,
});

provider.notifyService(root.lookupService("fixbug.FriendServiceRpc"), {
  GetFriendsList(req: { userid: number }) {
    env.logger.info("doing local service: GetFriendsList", { userid: req.userid });
    const list = friends.get(req.userid);
    if (list === undefined) throw new RpcError(Code.NOT_FOUND, `no user ${req.userid}`);
    return { result: { errcode: 0, errmsg: new Uint8Array() }, friends: list.map(utf8) };
  },
});

const removeSignals = onShutdown(() => provider.close({ graceMs: 2000 }));
await provider.start();
const { host, port } = provider.address;
console.log(`FriendServiceRpc provider listening on ${host}:${port}`);
await provider.run();
removeSignals();
await env.close();
console.log("provider stopped");
