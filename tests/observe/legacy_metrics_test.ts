import assert from "node:assert/strict";
import { RpcError } from "../../src/errors.ts";
import { loadProto } from "../../src/schema/load_proto.ts";
import { RpcProvider } from "../../src/server/rpc_provider.ts";
import { LOGIN_REQUEST, REGISTER_REQUEST } from "../_fixtures/legacy_vectors.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";

const user = await loadProto(new URL("../../examples/user/user.proto", import.meta.url));
const UserService = user.lookupService("fixbug.UserServiceRpc");

/** What a C++ mprpc caller does: one connection, the request in one write, read to EOF. */
async function legacyCall(port: number, request: Uint8Array): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(request);
    let n = 0;
    const buf = new Uint8Array(1024);
    for (;;) {
      const got = await conn.read(buf);
      if (got === null) return n;
      n += got;
    }
  } finally {
    conn.close();
  }
}

Deno.test("calls from C++ callers are counted like native ones", async () => {
  await using provider = new RpcProvider({ legacy: true, logger: new CaptureLogger() })
    .notifyService(UserService, {
      Login: () => ({ success: true }),
      Register: () => {
        throw new RpcError(9, "closed for registration");
      },
    });
  await provider.start();
  const replied = await legacyCall(provider.address.port, LOGIN_REQUEST);
  assert.ok(replied > 0);
  assert.equal(await legacyCall(provider.address.port, REGISTER_REQUEST), 0, "no reply");
  const byMethod = Object.fromEntries(provider.metrics().methods.map((m) => [m.method, m]));
  assert.deepEqual(byMethod["Login"]?.calls, { OK: 1 });
  assert.equal(byMethod["Login"]?.responseBytes, replied);
  assert.ok(byMethod["Login"]!.requestBytes > 0);
  assert.deepEqual(byMethod["Register"]?.calls, { FAILED_PRECONDITION: 1 });
  assert.equal(byMethod["Register"]?.inflight, 0);
});
