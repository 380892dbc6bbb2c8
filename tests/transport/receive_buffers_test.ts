/**
 * ReceiveBufferPool and ReceiveBuffer: a buffer comes back for reuse only once it was lent and
 * every lease on it is released, never while a lease is held, never when it was not lent; the
 * pool keeps at most its cap; size classes waste at most an eighth.
 */
import assert from "node:assert/strict";
import {
  ReceiveBuffer,
  ReceiveBufferPool,
  sizeClass,
} from "../../src/transport/receive_buffers.ts";

Deno.test("a buffer lent and released before the connection lets go of it is reused after done()", () => {
  const pool = new ReceiveBufferPool();
  const b = pool.take(10_000);
  b.lend().release();
  assert.equal(pool.pooledBytes, 0, "given back while still written");
  pool.done(b);
  assert.equal(pool.pooledBytes, b.bytes.length);
  assert.equal(pool.take(10_000), b);
  assert.equal(pool.pooledBytes, 0);
});

Deno.test("a buffer the connection let go of comes back only when its last lease is released", () => {
  const pool = new ReceiveBufferPool();
  const b = pool.take(10_000);
  const one = b.lend();
  const two = b.lend();
  pool.done(b);
  assert.equal(pool.pooledBytes, 0, "given back while two leases are held");
  one.release();
  assert.equal(pool.pooledBytes, 0, "given back while a lease is held");
  assert.notEqual(pool.take(10_000), b);
  two.release();
  assert.equal(pool.pooledBytes, b.bytes.length);
  assert.equal(pool.take(10_000), b);
});

Deno.test("a buffer never lent is not reused: whoever decoded views of it keeps them", () => {
  const pool = new ReceiveBufferPool();
  const b = pool.take(10_000);
  pool.done(b);
  assert.equal(pool.pooledBytes, 0);
  assert.notEqual(pool.take(10_000), b);
});

Deno.test("a reused buffer that is not lent again is not reused a second time", () => {
  const pool = new ReceiveBufferPool();
  const b = pool.take(10_000);
  b.lend().release();
  pool.done(b);
  assert.equal(pool.take(10_000), b);
  pool.done(b); // this time decoded as views by someone who took no lease
  assert.equal(pool.pooledBytes, 0);
  assert.notEqual(pool.take(10_000), b);
});

Deno.test("releasing one lease twice does not give the buffer back while another lease is held", () => {
  const pool = new ReceiveBufferPool();
  const b = pool.take(10_000);
  const first = b.lend();
  b.lend(); // a second holder, still reading its views
  pool.done(b);
  first.release();
  first.release();
  assert.equal(b.leases, 1);
  assert.equal(pool.pooledBytes, 0, "given back under a live lease");
  assert.notEqual(pool.take(10_000), b);
});

Deno.test("the pool keeps at most maxPooledBytes of idle buffers", () => {
  const pool = new ReceiveBufferPool(3 * 8192);
  const big = pool.take(3 * 8192 + 1); // more than the whole cap: never kept
  const buffers = [1, 2, 3, 4, 5].map(() => pool.take(8192));
  for (const b of buffers) {
    b.lend().release();
    pool.done(b);
  }
  assert.equal(pool.pooledBytes, 3 * 8192);
  big.lend().release();
  pool.done(big);
  assert.equal(pool.pooledBytes, 3 * 8192);
});

Deno.test("a miss while the pool is over half full drops the idle buffers of other sizes", () => {
  const pool = new ReceiveBufferPool(4 * 8192);
  for (const b of [1, 2, 3].map(() => pool.take(8192))) {
    b.lend().release();
    pool.done(b);
  }
  assert.equal(pool.pooledBytes, 3 * 8192);
  pool.take(100_000); // no buffer of that class: the idle ones go
  assert.equal(pool.pooledBytes, 0);
});

Deno.test("a buffer whose length is not a size class is not kept (no take would ever find it)", () => {
  const pool = new ReceiveBufferPool();
  const odd = new ReceiveBuffer(pool, new Uint8Array(1000));
  odd.lend().release();
  pool.done(odd);
  assert.equal(pool.pooledBytes, 0);
  const grown = new ReceiveBuffer(pool, new Uint8Array(100_000));
  grown.lend().release();
  pool.done(grown);
  assert.equal(pool.pooledBytes, 0);
});

Deno.test("size classes: at least the size asked, at most an eighth unused, stable, 4 KiB at least", () => {
  assert.equal(sizeClass(0), 4096);
  assert.equal(sizeClass(1), 4096);
  assert.equal(sizeClass(4096), 4096);
  assert.equal(sizeClass(4097), 4608);
  assert.equal(sizeClass(8192), 8192);
  assert.equal(sizeClass(8193), 9216);
  assert.equal(sizeClass(65_556), 73_728);
  const sizes = [];
  for (let s = 4097; s < 300_000; s += 37) sizes.push(s);
  for (let k = 19; k <= 31; k++) sizes.push(2 ** k - 1, 2 ** k, 2 ** k + 1);
  let previous = 0;
  for (const size of sizes) {
    const cls = sizeClass(size);
    assert.ok(Number.isInteger(cls), `class ${cls} of ${size}`);
    assert.ok(cls >= size, `class ${cls} of ${size} too small`);
    assert.ok((cls - size) / cls < 0.125, `class ${cls} of ${size} wastes over an eighth`);
    assert.equal(sizeClass(cls), cls, `class ${cls} is not its own class`);
    assert.ok(cls >= previous, `class ${cls} of ${size} below the class of a smaller size`);
    previous = cls;
  }
});
