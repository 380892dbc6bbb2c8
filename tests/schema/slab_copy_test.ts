import assert from "node:assert/strict";
import { slabCopy } from "../../src/schema/slab_copy.ts";

Deno.test("slab copies keep their bytes when the source buffer is reused", () => {
  const src = new Uint8Array(64).map((_, i) => i);
  const a = slabCopy(src, 0, 5);
  const b = slabCopy(src, 10, 13);
  src.fill(0xff);
  assert.deepEqual([...a], [0, 1, 2, 3, 4]);
  assert.deepEqual([...b], [10, 11, 12]);
  assert.notEqual(a.buffer, src.buffer);
});

Deno.test("slab copies never overlap, across a slab boundary too", () => {
  const src = new Uint8Array(1000).map((_, i) => i % 251);
  const copies: Uint8Array[] = [];
  for (let i = 0; i < 40; i++) copies.push(slabCopy(src, i, i + 1 + (i * 37) % 900));
  for (const [i, c] of copies.entries()) {
    assert.deepEqual(c, src.subarray(i, i + 1 + (i * 37) % 900), `copy ${i}`);
  }
});

Deno.test("a copy larger than 1 KiB gets its own buffer", () => {
  const src = new Uint8Array(4096).fill(7);
  const c = slabCopy(src, 0, 2048);
  assert.equal(c.byteOffset, 0);
  assert.equal(c.buffer.byteLength, 2048);
  assert.equal(c[2047], 7);
});
