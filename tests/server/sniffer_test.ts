import assert from "node:assert/strict";
import { ConsoleLogger } from "../../src/log/logger.ts";
import { Sniffer } from "../../src/server/sniffer.ts";
import type { ByteStream } from "../../src/transport/framed_connection.ts";

/** A stream that yields `chunks` one read each, then EOF. */
function stream(chunks: Uint8Array[]): ByteStream & { closed: number } {
  let i = 0;
  return {
    closed: 0,
    read(p: Uint8Array) {
      const c = chunks[i++];
      if (c === undefined) return Promise.resolve(null);
      p.set(c);
      return Promise.resolve(c.length);
    },
    write: (p) => Promise.resolve(p.length),
    close() {
      this.closed++;
    },
  };
}

const peer = { host: "::1", port: 1 };
const logger = new ConsoleLogger("ERROR");

Deno.test("the first four bytes, arriving one at a time, are handed on with the socket", async () => {
  const conn = stream([...new TextEncoder().encode("MRPC")].map((b) => Uint8Array.of(b)));
  const got = Promise.withResolvers<Uint8Array>();
  const sniffer = new Sniffer(conn, peer, {
    logger,
    onSniffed: (_s, c, head) => {
      assert.equal(c, conn);
      got.resolve(head.slice());
    },
    onClosed: () => assert.fail("closed"),
  });
  sniffer.start();
  assert.deepEqual(await got.promise, new TextEncoder().encode("MRPC"));
  await sniffer.close(); // handed on: the socket is not the sniffer's to close
  assert.equal(conn.closed, 0);
});

Deno.test("a connection that ends before four bytes is closed and reported", async () => {
  const conn = stream([Uint8Array.of(1, 2)]);
  const closed = Promise.withResolvers<void>();
  const sniffer = new Sniffer(conn, peer, {
    logger,
    onSniffed: () => assert.fail("sniffed"),
    onClosed: () => closed.resolve(),
  });
  sniffer.start();
  await closed.promise;
  assert.equal(conn.closed, 1);
  assert.equal(sniffer.partialBytes, 2);
  assert.ok(sniffer.partialSince > 0, "the first byte starts the read timeout");
  await sniffer.close();
});

Deno.test("goAway closes a connection still being sniffed", () => {
  const never: ByteStream & { closed: number } = {
    closed: 0,
    read: () => new Promise<number | null>(() => {}),
    write: (p) => Promise.resolve(p.length),
    close() {
      this.closed++;
    },
  };
  let reported = 0;
  const sniffer = new Sniffer(never, peer, {
    logger,
    onSniffed: () => assert.fail("sniffed"),
    onClosed: () => reported++,
  });
  sniffer.goAway();
  sniffer.goAway();
  assert.equal(never.closed, 1);
  assert.equal(reported, 1);
  assert.equal(sniffer.gotFrame, false);
  assert.equal(sniffer.inflight, 0);
});
