/**
 * The original's user example, provider side: UserServiceRpc with Login and Register.
 *
 *   deno run -A examples/user/provider.ts -i examples/user/test.conf
 *   deno run -A examples/user/provider.ts --host 127.0.0.1 --port 8000
 *
 * @module
 */
import { CallContext, loadProto, RpcProvider } from "../../mod.ts";
import { onShutdown, setup, text } from "../_shared.ts";

const env = await setup("provider");
const root = await loadProto(new URL("./user.proto", import.meta.url));

// The "local service" of the original, now callable remotely.
const users = new Map<string, string>([["zhang san", "123456"]]);

const provider = new RpcProvider({
  host: env.config.rpcServerIp,
  port: env.config.rpcServerPort,
  registry: env.zookeeper,
  logger: env.logger,
  maxMessageBytes: env.config.maxMessageBytes,
  // --legacy / legacy=true: also serve C++ mprpc callers on the same port.
  legacy: env.config.legacy,
});

provider.notifyService(root.lookupService("fixbug.UserServiceRpc"), {
  Login(req: { name: Uint8Array; pwd: Uint8Array }, ctx: CallContext) {
    const name = text(req.name);
    const success = users.get(name) === text(req.pwd) && users.has(name);
    env.logger.info("doing local service: Login", { name, success, peer: ctx.peer.host });
    return { result: { errcode: 0, errmsg: new Uint8Array() }, success };
  },
  Register(req: { id: number; name: Uint8Array; pwd: Uint8Array }) {
    const name = text(req.name);
    users.set(name, text(req.pwd));
    env.logger.info("doing local service: Register", { id: req.id, name });
    return { result: { errcode: 0, errmsg: new Uint8Array() }, success: true };
  },
});

const removeSignals = onShutdown(() => provider.close({ graceMs: 2000 }));
await provider.start();
const { host, port } = provider.address;
console.log(`UserServiceRpc provider listening on ${host}:${port}`);
await provider.run();
removeSignals();
await env.close();
console.log("provider stopped");
