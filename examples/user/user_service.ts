/**
 * The user example's service: UserServiceRpc with Login and Register, as a worker module
 * (`setup(provider)` runs in every event loop of a provider with `--workers`). Each event loop
 * keeps its own in-memory users table, as each process of the original would.
 *
 * @module
 */
import type { RpcProvider } from "../../mod.ts";
import { text } from "../_shared.ts";
// Generated from user.proto (deno task gen:examples): typed requests, responses and handlers.
import { UserServiceRpc } from "./user_pb.ts";

/** Adds UserServiceRpc to `provider`. */
export default function setup(provider: RpcProvider): void {
  // The "local service" of the original, now callable remotely.
  const users = new Map<string, string>([["zhang san", "123456"]]);
  provider.notifyService(UserServiceRpc, {
    Login(req, ctx) {
      const name = text(req.name);
      const success = users.has(name) && users.get(name) === text(req.pwd);
      console.log(`doing local service: Login(${name}) -> ${success} from ${ctx.peer.host}`);
      return { result: { errcode: 0, errmsg: new Uint8Array() }, success };
    },
    Register(req) {
      const name = text(req.name);
      users.set(name, text(req.pwd));
      console.log(`doing local service: Register(${req.id}, ${name})`);
      return { result: { errcode: 0, errmsg: new Uint8Array() }, success: true };
    },
  });
}
