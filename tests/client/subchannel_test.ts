import assert from "node:assert/strict";
import { Code, RpcError } from "../../src/errors.ts";
import { ConsoleLogger } from "../../src/log/logger.ts";
import type { ClientConnection } from "../../src/client/client_connection.ts";
import { MAX_BACKOFF_MS, Subchannel, type SubchannelHost } from "../../src/client/subchannel.ts";

/** A connection whose attempt the test settles by hand. */
class FakeConnection {
  ready = false;
  gone = false;
  connected = false;
  inflight = 0;
  livenessFailed = false;
  attempt = Promise.withResolvers<void>();
  connects = 0;
  constructor(readonly onGone: (c: ClientConnection) => void) {}
  connect(): Promise<void> {
    this.connects++;
    return this.attempt.promise;
  }
  retire(): void {}
  succeed(): void {
    this.ready = true;
    this.attempt.resolve();
  }
  fail(): void {
    this.gone = true;
    this.attempt.reject(new RpcError(Code.UNAVAILABLE, "connection refused"));
  }
}

function host() {
  const opened: FakeConnection[] = [];
  const background: Promise<void>[] = [];
  let changes = 0;
  const h: SubchannelHost = {
    logger: new ConsoleLogger("CRITICAL"),
    open(_sub, onGone) {
      const c = new FakeConnection(onGone);
      opened.push(c);
      return c as unknown as ClientConnection;
    },
    background: (p) => void background.push(p),
    healthChanged: () => void changes++,
  };
  return { h, opened, background, changes: () => changes };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("a failed connection attempt takes the provider out of rotation; a good one brings it back", async () => {
  const { h, opened, changes } = host();
  const sub = new Subchannel(h, { host: "::1", port: 8000 }, 1);
  assert.equal(sub.key, "[::1]:8000");
  sub.connection();
  opened[0]!.fail();
  await tick();
  assert.equal(sub.failures, 1);
  assert.ok(sub.downUntil > Date.now() && sub.downUntil <= Date.now() + MAX_BACKOFF_MS);
  assert.equal(changes(), 1);
  assert.equal(sub.readyConnection, undefined);

  const conn = sub.connection(); // the gone one is replaced
  assert.equal(opened.length, 2);
  opened[1]!.succeed();
  await tick();
  assert.equal(sub.failures, 0);
  assert.equal(sub.downUntil, 0);
  assert.equal(changes(), 2);
  assert.equal(sub.readyConnection, conn);
});

Deno.test("a connection closed for unanswered pings takes the provider out of rotation", async () => {
  const { h, opened, changes } = host();
  const sub = new Subchannel(h, { host: "127.0.0.1", port: 8000 }, 1);
  sub.connection();
  opened[0]!.succeed();
  await tick();
  assert.equal(changes(), 0); // no failure before: nothing to bring back
  const c = opened[0]!;
  c.livenessFailed = true;
  c.gone = true;
  c.onGone(c as unknown as ClientConnection);
  assert.equal(sub.failures, 1);
  assert.equal(changes(), 1);
  assert.equal(sub.readyConnection, undefined);
});

Deno.test("warm() runs one background attempt at a time", async () => {
  const { h, opened, background } = host();
  const sub = new Subchannel(h, { host: "127.0.0.1", port: 8000 }, 1);
  sub.warm();
  sub.warm();
  assert.equal(opened.length, 1);
  assert.equal(background.length, 1);
  opened[0]!.succeed();
  await Promise.all(background);
  assert.ok(sub.readyConnection !== undefined);
});
