/**
 * The original's user example, caller side: calls Login and Register on UserServiceRpc.
 *
 *   deno run -A examples/user/caller.ts -i examples/user/test.conf
 *   deno run -A examples/user/caller.ts --host 127.0.0.1 --port 8000   (no ZooKeeper)
 *
 * @module
 */
import { type CallOptions, loadProto, RpcChannel, RpcController } from "../../mod.ts";
import { callerRegistry, setup, text, utf8 } from "../_shared.ts";

interface ResultCode {
  errcode: number;
  errmsg: Uint8Array;
}
interface UserServiceStub {
  Login(
    req: { name: Uint8Array; pwd: Uint8Array },
    opts?: CallOptions,
  ): Promise<{ result: ResultCode | null; success: boolean }>;
  Register(
    req: { id: number; name: Uint8Array; pwd: Uint8Array },
    opts?: CallOptions,
  ): Promise<{ result: ResultCode | null; success: boolean }>;
}

const env = await setup("caller");
const root = await loadProto(new URL("./user.proto", import.meta.url));
const service = root.lookupService("fixbug.UserServiceRpc");
const channel = new RpcChannel({
  registry: callerRegistry(env, "fixbug.UserServiceRpc"),
  timeoutMs: env.config.timeoutMs,
  logger: env.logger,
});
let failed = false;
try {
  const stub = channel.stub<UserServiceStub>(service);

  const login = await stub.Login({ name: utf8("zhang san"), pwd: utf8("123456") });
  console.log(
    `rpc Login(zhang san) -> success: ${login.success}, errcode: ${login.result?.errcode ?? 0}`,
  );

  const reg = await stub.Register({ id: 2001, name: utf8("Kejiang"), pwd: utf8("666666") });
  console.log(`rpc Register(2001, Kejiang) -> success: ${reg.success}`);

  // The original's style: CallMethod with a controller that is checked afterwards.
  const controller = new RpcController();
  const res = await channel.callMethod(service.methods["Login"]!, controller, {
    name: utf8("Kejiang"),
    pwd: utf8("666666"),
  });
  if (controller.failed()) {
    console.log(`rpc Login(Kejiang) failed: ${controller.errorText()}`);
    failed = true;
  } else {
    console.log(
      `rpc Login(Kejiang) via callMethod -> success: ${res?.success}, errmsg: "${
        text(res?.result?.errmsg)
      }"`,
    );
  }
} catch (e) {
  console.error(`rpc call failed: ${e}`);
  failed = true;
} finally {
  await channel.close();
  await env.close();
}
if (failed) Deno.exit(1);
