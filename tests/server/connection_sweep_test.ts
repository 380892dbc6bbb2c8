import assert from "node:assert/strict";
import type { LogFields, Logger } from "../../src/log/logger.ts";
import type { AcceptedConnection } from "../../src/server/accepted_connection.ts";
import { sweepConnections } from "../../src/server/connection_sweep.ts";
import { ConnectionTimeout } from "../../src/server/server_connection.ts";

class Lines implements Logger {
  lines: string[] = [];
  debug(): void {}
  info(msg: string): void {
    this.lines.push(msg);
  }
  warn(msg: string, fields?: LogFields): void {
    this.lines.push(`${msg}: ${fields?.why}`);
  }
  error(): void {}
  critical(): void {}
}

function conn(fields: Partial<AcceptedConnection>): AcceptedConnection & { closedWith: unknown[] } {
  const closedWith: unknown[] = [];
  return {
    peer: { host: "::1", port: 9 },
    createdAt: 0,
    lastReadAt: 0,
    partialSince: 0,
    partialBytes: 0,
    gotFrame: true,
    inflight: 0,
    start() {},
    goAway() {},
    abortAll() {},
    close(error?: unknown) {
      closedWith.push(error);
      return Promise.resolve();
    },
    ...fields,
    closedWith,
  };
}

Deno.test("the sweep closes a connection without progress on an unfinished frame past readMs", () => {
  const logger = new Lines();
  const stalled = conn({ partialSince: 1000, partialBytes: 3 });
  const moving = conn({ partialSince: 1500, partialBytes: 3 });
  sweepConnections([stalled, moving], { readMs: 1000, idleMs: 0, logger, now: 2000 });
  assert.equal(stalled.closedWith.length, 1);
  assert.ok(stalled.closedWith[0] instanceof ConnectionTimeout);
  assert.equal(moving.closedWith.length, 0);
  assert.match(logger.lines[0]!, /read timeout: no progress on an unfinished frame \(3 bytes\)/);
});

Deno.test("the sweep closes a connection that sent no frame within readMs of connecting", () => {
  const logger = new Lines();
  const silent = conn({ gotFrame: false, createdAt: 0 });
  sweepConnections([silent], { readMs: 500, idleMs: 0, logger, now: 499 });
  assert.equal(silent.closedWith.length, 0);
  sweepConnections([silent], { readMs: 500, idleMs: 0, logger, now: 500 });
  assert.equal(silent.closedWith.length, 1);
});

Deno.test("the sweep closes an idle connection of another protocol, but not one with a call", () => {
  const logger = new Lines();
  const idle = conn({ lastReadAt: 0 });
  const busy = conn({ lastReadAt: 0, inflight: 1 });
  sweepConnections([idle, busy], { readMs: 0, idleMs: 100, logger, now: 100 });
  assert.equal(idle.closedWith.length, 1);
  assert.equal(busy.closedWith.length, 0);
});
