import assert from "node:assert/strict";
import { CallSlab } from "../../src/util/call_slab.ts";

Deno.test("CallSlab finds entries by id and not by a different id sharing their slot", () => {
  const slab = new CallSlab<{ id: number }>(8);
  const a = { id: 3 };
  slab.add(a);
  assert.equal(slab.get(3), a);
  assert.equal(slab.get(3 + 8), undefined);
  assert.equal(slab.slotFree(3 + 8), false);
  assert.equal(slab.delete({ id: 3 }), false); // another object with the same id
  assert.equal(slab.delete(a), true);
  assert.equal(slab.delete(a), false);
  assert.equal(slab.size, 0);
});

Deno.test("CallSlab grows before half full and keeps every entry findable", () => {
  const slab = new CallSlab<{ id: number }>(8);
  const all = [];
  for (let id = 1; id <= 1000; id++) {
    assert.ok(slab.slotFree(id));
    const e = { id };
    slab.add(e);
    all.push(e);
  }
  assert.equal(slab.size, 1000);
  for (const e of all) assert.equal(slab.get(e.id), e);
  for (const e of all.slice(0, 500)) slab.delete(e);
  assert.equal(slab.size, 500);
  assert.equal(slab.get(1), undefined);
  assert.equal(slab.get(1000), all[999]);
});

Deno.test("CallSlab refuses an entry whose slot is taken", () => {
  const slab = new CallSlab<{ id: number }>(8);
  slab.add({ id: 1 });
  assert.throws(() => slab.add({ id: 1 + 8 }), RangeError);
  assert.equal(slab.size, 1);
});

Deno.test("CallSlab lists entries in the order their ids were handed out, across the wrap", () => {
  const slab = new CallSlab<{ id: number }>(8);
  // Ids near the top of the range, then wrapped around to 1 and 2; 3 is handed out next.
  for (const id of [2, 0xfffffff0, 1, 0xffffffef]) slab.add({ id });
  assert.deepEqual(slab.values(3).map((e) => e.id), [0xffffffef, 0xfffffff0, 1, 2]);
});
