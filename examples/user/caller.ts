/**
 * The original's user example, caller side: calls Login and Register on UserServiceRpc.
 *
 *   deno run --allow-net=127.0.0.1 --allow-read=examples examples/user/caller.ts -i examples/user/test.conf
 *   deno run --allow-net=127.0.0.1 --allow-read=examples examples/user/caller.ts --port 8000   (no ZooKeeper)
 *
 * @module
 */
import { RpcChannel, RpcController } from "../../mod.ts";
import { channelOptions } from "../../config.ts";
import { CALLER_FIELDS, callerRegistry, main, text, utf8 } from "../_shared.ts";
// Generated from user.proto (deno task gen:examples): typed requests and responses.
import { UserServiceRpc } from "./user_pb.ts";

await main("caller", CALLER_FIELDS, async (env) => {
  await using channel = new RpcChannel({
    ...channelOptions(env.config),
    registry: callerRegistry(env, "fixbug.UserServiceRpc"),
    logger: env.logger,
  });
  const stub = channel.stub(UserServiceRpc);

  const login = await stub.Login({ name: utf8("zhang san"), pwd: utf8("123456") });
  console.log(
    `rpc Login(zhang san) -> success: ${login.success}, errcode: ${login.result?.errcode ?? 0}`,
  );

  const reg = await stub.Register({ id: 2001, name: utf8("Kejiang"), pwd: utf8("666666") });
  console.log(`rpc Register(2001, Kejiang) -> success: ${reg.success}`);

  // The original's style: CallMethod with a controller that is checked afterwards.
  const controller = new RpcController();
  const res = await channel.callMethod(UserServiceRpc.service.methods["Login"]!, controller, {
    name: utf8("Kejiang"),
    pwd: utf8("666666"),
  });
  if (controller.failed()) {
    console.error(`caller: rpc Login(Kejiang) failed: ${controller.errorText()}`);
    return 1;
  }
  console.log(
    `rpc Login(Kejiang) via callMethod -> success: ${res?.success}, errmsg: "${
      text(res?.result?.errmsg)
    }"`,
  );
});
