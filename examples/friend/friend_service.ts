/**
 * The friend example's service: FriendServiceRpc.GetFriendsList returns a repeated list. A
 * worker module: `setup(provider)` runs in every event loop of a provider with `--workers`.
 *
 * @module
 */
import { Code, RpcError, type RpcProvider } from "../../mod.ts";
import { utf8 } from "../_shared.ts";
// Generated from friend.proto (deno task gen:examples): typed requests, responses and handlers.
import { FriendServiceRpc } from "./friend_pb.ts";

const friends = new Map<number, string[]>([
  [1000, ["gao yang", "liu hong", "wang shuo"]],
]);

/** Adds FriendServiceRpc to `provider`. */
export default function setup(provider: RpcProvider): void {
  provider.notifyService(FriendServiceRpc, {
    GetFriendsList(req) {
      console.log(`doing local service: GetFriendsList(${req.userid})`);
      const list = friends.get(req.userid);
      if (list === undefined) throw new RpcError(Code.NOT_FOUND, `no user ${req.userid}`);
      return { result: { errcode: 0, errmsg: new Uint8Array() }, friends: list.map(utf8) };
    },
  });
}
