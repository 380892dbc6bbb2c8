/**
 * The user example's service: UserServiceRpc with Login and Register, as a worker module
 * (`setup(provider)` runs in every event loop of a provider with `--workers`). Each event loop
 * keeps its own in-memory users table, as each process of the original would.
 *
 * @module
 */
import { type CallContext, loadProto, type RpcProvider } from "../../mod.ts";
import { text } from "../_shared.ts";

/** Adds UserServiceRpc to `provider`. */
export default async function setup(provider: RpcProvider): Promise<void> {
  const root = await loadProto(new URL("./user.proto", import.meta.url));
  // The "local service" of the original, now callable remotely.
  const users = new Map<string, string>([["zhang san", "123456"]]);
  provider.notifyService(root.lookupService("fixbug.UserServiceRpc"), {
    Login(req: { name: Uint8Array; pwd: Uint8Array }, ctx: CallContext) {
      const name = text(req.name);
      const success = users.has(name) && users.get(name) === text(req.pwd);
      console.log(`doing local service: Login(${name}) -> ${success} from ${ctx.peer.host}`);
      return { result: { errcode: 0, errmsg: new Uint8Array() }, success };
    },
    Register(req: { id: number; name: Uint8Array; pwd: Uint8Array }) {
      const name = text(req.name);
      users.set(name, text(req.pwd));
      console.log(`doing local service: Register(${req.id}, ${name})`);
      return { result: { errcode: 0, errmsg: new Uint8Array() }, success: true };
    },
  });
}
