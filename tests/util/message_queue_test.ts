import assert from "node:assert/strict";
import { MessageQueue } from "../../src/util/message_queue.ts";

Deno.test("the consumer takes queued messages in order, each reported with its cost", async () => {
  const taken: number[] = [];
  const q = new MessageQueue<string>({ onTake: (cost) => taken.push(cost) });
  q.push("a", 1);
  q.push("b", 2);
  const waiting = q.next(); // "a" is there already
  assert.deepEqual(await waiting, { value: "a", done: false });
  assert.deepEqual(await q.next(), { value: "b", done: false });
  const later = q.next();
  q.push("c", 3); // handed straight to the waiting consumer
  assert.deepEqual(await later, { value: "c", done: false });
  q.end();
  assert.deepEqual(await q.next(), { value: undefined, done: true });
  assert.deepEqual(taken, [1, 2, 3]);
});

Deno.test("an error ends the queue after the messages queued before it", async () => {
  const q = new MessageQueue<number>();
  q.push(1, 0);
  q.end(new Error("broken"));
  q.push(2, 0); // ignored: ended
  assert.deepEqual(await q.next(), { value: 1, done: false });
  await assert.rejects(q.next(), /broken/);
});

Deno.test("breaking out tells the owner once and drops what is queued", async () => {
  let returned = 0;
  const q = new MessageQueue<number>({ onReturn: () => returned++ });
  for (let i = 0; i < 5; i++) q.push(i, 0);
  for await (const n of q) if (n === 1) break;
  assert.equal(returned, 1);
  assert.equal(q.size, 0);
  await q.return();
  assert.equal(returned, 1);
});

Deno.test("a queue can be iterated once, and next() cannot be called twice at a time", async () => {
  const q = new MessageQueue<number>();
  q[Symbol.asyncIterator]();
  assert.throws(() => q[Symbol.asyncIterator](), /iterated only once/);
  const first = q.next();
  await assert.rejects(q.next(), /called again before the previous one settled/);
  q.end();
  assert.equal((await first).done, true);
});

Deno.test("a long queue taken one by one keeps its order (the array is compacted as it goes)", async () => {
  const q = new MessageQueue<number>();
  for (let i = 0; i < 5000; i++) q.push(i, 0);
  q.end();
  let expect = 0;
  for await (const n of q) assert.equal(n, expect++);
  assert.equal(expect, 5000);
});
