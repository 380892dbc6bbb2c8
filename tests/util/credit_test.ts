import assert from "node:assert/strict";
import {
  MESSAGE_COST_BYTES,
  messageCost,
  ReceiveWindow,
  SendCredit,
  STREAM_WINDOW_BYTES,
} from "../../src/util/credit.ts";

Deno.test("a sender may send while its credit is positive, one message overshooting at most", () => {
  const credit = new SendCredit(1000);
  credit.spend(messageCost(900));
  assert.ok(credit.available > 0);
  credit.spend(messageCost(4000)); // the last message may be any size
  assert.ok(credit.available <= 0);
});

Deno.test("a waiting sender wakes once a grant makes its credit positive, or the stream closes", async () => {
  const credit = new SendCredit(10);
  credit.spend(100);
  let woke = false;
  const waiting = credit.wait().then(() => woke = true);
  credit.grant(50); // still -40
  await Promise.resolve();
  assert.equal(woke, false);
  credit.grant(50);
  await waiting;
  assert.equal(woke, true);
  credit.spend(1000);
  const closed = credit.wait();
  credit.close();
  await closed;
  await credit.wait(); // closed: never waits again
});

Deno.test("a receiver refuses a message sent with no credit left and grants a quarter window at a time", () => {
  const w = new ReceiveWindow();
  const cost = messageCost(1000);
  let received = 0;
  while (w.receive(cost)) received++;
  // Every message starting within the window was allowed; the next one overran it.
  assert.equal(received, Math.ceil(STREAM_WINDOW_BYTES / cost));
  let granted = 0;
  for (let i = 0; i < received; i++) granted += w.consume(cost);
  assert.ok(granted >= STREAM_WINDOW_BYTES - STREAM_WINDOW_BYTES / 4);
  assert.ok(w.receive(cost), "credit granted back lets the peer send again");
  assert.equal(MESSAGE_COST_BYTES, 64);
});
