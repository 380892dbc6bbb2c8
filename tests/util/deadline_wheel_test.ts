import assert from "node:assert/strict";
import { DeadlineWheel, type Expirable } from "../../src/util/deadline_wheel.ts";

/** A wheel on a fake clock; `advance(ms)` moves the clock 1 ms at a time, ticking each step. */
function fakeWheel(start = 1_000_000, resolutionMs = 10) {
  let now = start;
  const wheel = new DeadlineWheel({ resolutionMs, now: () => now });
  return {
    wheel,
    get now() {
      return now;
    },
    set(t: number) {
      now = t;
    },
    advance(ms: number) {
      for (let i = 0; i < ms; i++) {
        now++;
        wheel.tick();
      }
    },
  };
}

function entry(
  deadline: number,
  log: Array<{ deadline: number; at: number }>,
  clock: { now: number },
) {
  const e: Expirable = { deadline, expire: () => log.push({ deadline, at: clock.now }) };
  return e;
}

Deno.test("DeadlineWheel never expires an entry before its deadline, and within one resolution after", () => {
  const clock = fakeWheel(1_000_003, 10);
  try {
    const fired: Array<{ deadline: number; at: number }> = [];
    const start = clock.now;
    for (let d = 1; d <= 100; d++) clock.wheel.add(entry(start + d, fired, clock));
    assert.equal(clock.wheel.size, 100);
    clock.advance(120);
    assert.equal(fired.length, 100, "every entry expired once");
    for (const { deadline, at } of fired) {
      assert.ok(at >= deadline, `deadline ${deadline} expired early at ${at}`);
      assert.ok(at < deadline + 10, `deadline ${deadline} expired late at ${at}`);
    }
    assert.equal(clock.wheel.size, 0);
  } finally {
    clock.wheel.close();
  }
});

Deno.test("DeadlineWheel expires entries whose deadline the clock jumped past, in one tick", () => {
  const clock = fakeWheel(5_000, 10);
  try {
    const fired: Array<{ deadline: number; at: number }> = [];
    for (const d of [5_050, 5_500, 9_999]) clock.wheel.add(entry(d, fired, clock));
    clock.set(20_000);
    clock.wheel.tick();
    assert.deepEqual(fired.map((f) => f.deadline).sort(), [5_050, 5_500, 9_999]);
  } finally {
    clock.wheel.close();
  }
});

Deno.test("DeadlineWheel.remove() cancels an entry and is a no-op for unknown or expired ones", () => {
  const clock = fakeWheel(0, 10);
  try {
    const fired: Array<{ deadline: number; at: number }> = [];
    const keep = entry(30, fired, clock);
    const drop = entry(30, fired, clock);
    clock.wheel.add(keep);
    clock.wheel.add(drop);
    assert.equal(clock.wheel.size, 2);
    clock.wheel.remove(drop);
    assert.equal(clock.wheel.size, 1);
    clock.wheel.remove(drop); // twice
    clock.wheel.remove(entry(10, fired, clock)); // never added
    assert.equal(clock.wheel.size, 1);
    clock.advance(40);
    assert.deepEqual(fired.map((f) => f.deadline), [30]);
    clock.wheel.remove(keep); // already expired
    assert.equal(clock.wheel.size, 0);
  } finally {
    clock.wheel.close();
  }
});

Deno.test("DeadlineWheel lets an entry removed and re-added with a later deadline expire once, later", () => {
  const clock = fakeWheel(0, 10);
  try {
    const fired: Array<{ deadline: number; at: number }> = [];
    const e = entry(20, fired, clock);
    clock.wheel.add(e);
    clock.wheel.remove(e);
    e.deadline = 50;
    clock.wheel.add(e);
    clock.advance(45);
    assert.equal(fired.length, 0);
    clock.advance(20);
    assert.equal(fired.length, 1);
    assert.ok(fired[0]!.at >= 50);
  } finally {
    clock.wheel.close();
  }
});

Deno.test("DeadlineWheel runs its timer only while entries are pending, and stops after idle ticks", () => {
  const clock = fakeWheel(0, 10);
  try {
    assert.equal(clock.wheel.ticking, false, "no timer before the first entry");
    const fired: Array<{ deadline: number; at: number }> = [];
    clock.wheel.add(entry(15, fired, clock));
    assert.equal(clock.wheel.ticking, true);
    clock.advance(20);
    assert.equal(fired.length, 1);
    assert.equal(clock.wheel.ticking, true, "stays armed for a while after going idle");
    for (let i = 0; i < 60; i++) clock.wheel.tick();
    assert.equal(clock.wheel.ticking, false, "timer stopped after idle ticks");
    // A new entry restarts it.
    clock.wheel.add(entry(clock.now + 5, fired, clock));
    assert.equal(clock.wheel.ticking, true);
    clock.advance(20);
    assert.equal(fired.length, 2);
  } finally {
    clock.wheel.close();
  }
  assert.equal(clock.wheel.ticking, false);
});

Deno.test("DeadlineWheel expires an entry added after its deadline, even when the wheel was idle", () => {
  const clock = fakeWheel(0, 10);
  try {
    const fired: Array<{ deadline: number; at: number }> = [];
    clock.wheel.add(entry(5, fired, clock));
    clock.advance(10);
    for (let i = 0; i < 60; i++) clock.wheel.tick();
    assert.equal(clock.wheel.ticking, false);
    // Much later, an entry whose deadline has already passed (a handler that reads ctx.signal
    // after its deadline, or a call whose connect took until the deadline).
    clock.set(10_000);
    clock.wheel.add(entry(9_990, fired, clock));
    clock.advance(20);
    assert.deepEqual(fired.map((f) => f.deadline), [5, 9_990]);
    assert.equal(clock.wheel.size, 0);
  } finally {
    clock.wheel.close();
  }
});

Deno.test("DeadlineWheel.close() forgets entries without expiring them and is idempotent", () => {
  const clock = fakeWheel(0, 10);
  const fired: Array<{ deadline: number; at: number }> = [];
  clock.wheel.add(entry(10, fired, clock));
  clock.wheel.close();
  clock.wheel.close();
  assert.equal(clock.wheel.size, 0);
  assert.equal(clock.wheel.ticking, false);
  clock.set(1000);
  clock.wheel.tick();
  assert.equal(fired.length, 0);
});

Deno.test("DeadlineWheel on the real clock fires an entry about on time", async () => {
  const wheel = new DeadlineWheel({ resolutionMs: 5 });
  // The wheel's interval is unref'd (it must not keep a program alive), so hold the event loop.
  const hold = setTimeout(() => {}, 5000);
  try {
    const deadline = Date.now() + 30;
    const at = await new Promise<number>((resolve) =>
      wheel.add({ deadline, expire: () => resolve(Date.now()) })
    );
    assert.ok(at >= deadline, `fired ${deadline - at} ms early`);
  } finally {
    clearTimeout(hold);
    wheel.close();
  }
});

Deno.test("DeadlineWheel: an expiry that removes other entries of its slot keeps them from expiring", () => {
  const clock = fakeWheel(0, 10);
  try {
    const fired: number[] = [];
    const others: Expirable[] = [];
    const first: Expirable = {
      deadline: 30,
      expire: () => {
        fired.push(0);
        // What closing a connection from an expiry does: its other calls are settled at once.
        for (const o of others) clock.wheel.remove(o);
      },
    };
    clock.wheel.add(first);
    for (let i = 1; i <= 3; i++) {
      const o: Expirable = { deadline: 30, expire: () => fired.push(i) };
      others.push(o);
      clock.wheel.add(o);
    }
    const later = entry(35, [], clock);
    clock.wheel.add(later);
    clock.advance(40);
    assert.deepEqual(fired, [0]);
    assert.equal(clock.wheel.size, 0);
    assert.equal(later.wheelSlot, undefined);
  } finally {
    clock.wheel.close();
  }
});

Deno.test("DeadlineWheel takes new entries into a slot whose entries were all removed", () => {
  const clock = fakeWheel(0, 10);
  try {
    const fired: Array<{ deadline: number; at: number }> = [];
    const a = entry(25, fired, clock);
    clock.wheel.add(a);
    clock.wheel.remove(a); // the slot empties and is forgotten
    const b = entry(26, fired, clock);
    const c = entry(27, fired, clock);
    clock.wheel.add(b);
    clock.wheel.add(c);
    clock.wheel.remove(b);
    assert.equal(clock.wheel.size, 1);
    clock.advance(40);
    assert.deepEqual(fired.map((f) => f.deadline), [27]);
    assert.equal(clock.wheel.size, 0);
  } finally {
    clock.wheel.close();
  }
});

Deno.test("DeadlineWheel.close() leaves entries removable without counting them again", () => {
  const clock = fakeWheel(0, 10);
  const a = entry(25, [], clock);
  clock.wheel.add(a);
  clock.wheel.close();
  clock.wheel.remove(a);
  assert.equal(clock.wheel.size, 0);
  clock.wheel.add(entry(50, [], clock));
  assert.equal(clock.wheel.size, 1);
  clock.wheel.close();
});

Deno.test("DeadlineWheel.add() of an entry already waiting moves it to its new deadline", () => {
  const clock = fakeWheel(0, 10);
  try {
    const fired: Array<{ deadline: number; at: number }> = [];
    const e = entry(20, fired, clock);
    const other = entry(20, fired, clock);
    clock.wheel.add(e);
    clock.wheel.add(other);
    e.deadline = 60;
    clock.wheel.add(e);
    assert.equal(clock.wheel.size, 2);
    clock.advance(40);
    assert.equal(fired.length, 1); // `other` only
    clock.advance(40);
    assert.equal(fired.length, 2);
    assert.ok(fired[1]!.at >= 60, `expired at ${fired[1]!.at}`);
  } finally {
    clock.wheel.close();
  }
});

Deno.test("DeadlineWheel keeps timing entries right when the slot it reuses empties and entries move on", () => {
  const clock = fakeWheel(0, 10);
  try {
    const fired: Array<{ deadline: number; at: number }> = [];
    // One entry at a time, as a caller with one call outstanding: the slot empties each time.
    for (let i = 0; i < 3; i++) {
      const e = entry(25, fired, clock);
      clock.wheel.add(e);
      clock.wheel.remove(e);
    }
    const later = entry(45, fired, clock); // entries move on to a later slot
    clock.wheel.add(later);
    const back = entry(26, fired, clock); // and back to the emptied one
    clock.wheel.add(back);
    assert.equal(clock.wheel.size, 2);
    clock.advance(30);
    assert.deepEqual(fired.map((f) => f.deadline), [26]);
    assert.ok(fired[0]!.at >= 26, `expired early at ${fired[0]!.at}`);
    clock.advance(30);
    assert.deepEqual(fired.map((f) => f.deadline), [26, 45]);
    assert.equal(clock.wheel.size, 0);
  } finally {
    clock.wheel.close();
  }
});
