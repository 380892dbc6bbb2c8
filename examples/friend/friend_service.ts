/**
 * The friend example's service: FriendServiceRpc.GetFriendsList returns a repeated list. A
 * worker module: `setup(provider)` runs in every event loop of a provider with `--workers`.
 *
 * @module
 */
import { Code, loadProto, RpcError, type RpcProvider } from "../../mod.ts";
import { utf8 } from "../_shared.ts";

const friends = new Map<number, string[]>([
  [1000, ["gao yang", "liu hong", "wang shuo"]],
]);

/** Adds FriendServiceRpc to `provider`. */
export default async function setup(provider: RpcProvider): Promise<void> {
  const root = await loadProto(new URL("./friend.proto", import.meta.url));
  provider.notifyService(root.lookupService("fixbug.FriendServiceRpc"), {
    GetFriendsList(req: { userid: number }) {
      console.log(`doing local service: GetFriendsList(${req.userid})`);
      const list = friends.get(req.userid);
      if (list === undefined) throw new RpcError(Code.NOT_FOUND, `no user ${req.userid}`);
      return { result: { errcode: 0, errmsg: new Uint8Array() }, friends: list.map(utf8) };
    },
  });
}
