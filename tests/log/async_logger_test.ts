import assert from "node:assert/strict";
import { AsyncLogger } from "../../src/log/async_logger.ts";
import { defaultLogFileName, formatLogTimestamp } from "../../src/log/log_format.ts";

const LINUX = Deno.build.os === "linux";
const FIXED = new Date(2024, 4, 17, 12, 30, 0, 0);

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "mprpc_log_" }));
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function readLines(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(path);
  assert.ok(text === "" || text.endsWith("\n"), "file ends with a newline");
  return text === "" ? [] : text.slice(0, -1).split("\n");
}

/** The messages (and fields) of lines `STAMP LEVEL rest`, as `LEVEL rest`. */
function bodies(lines: string[]): string[] {
  return lines.map((l) => l.slice(l.indexOf(" ") + 1));
}

/** Paths this process holds open (Linux), to see which files the writer Worker keeps open. */
function openFiles(): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync("/proc/self/fd")) {
    try {
      out.push(Deno.readLinkSync(`/proc/self/fd/${e.name}`));
    } catch {
      // the fd of the directory listing itself is gone already
    }
  }
  return out;
}

/** Replaces the global Worker with a subclass that records what the logger does with it. */
function spyWorkers(): { created: number; terminated: number; restore(): void } {
  const Original = globalThis.Worker;
  const spy = {
    created: 0,
    terminated: 0,
    restore: () => void (globalThis.Worker = Original),
  };
  globalThis.Worker = class extends Original {
    constructor(url: string | URL, options?: WorkerOptions) {
      super(url, options);
      spy.created++;
    }
    override terminate(): void {
      spy.terminated++;
      super.terminate();
    }
  };
  return spy;
}

Deno.test("100,000 lines from 8 concurrent tasks all reach the file, in order per task", async () => {
  await withTempDir(async (dir) => {
    await using log = new AsyncLogger({ dir, clock: () => FIXED });
    const tasks = 8;
    const perTask = 12_500;
    await Promise.all(Array.from({ length: tasks }, async (_, task) => {
      for (let seq = 0; seq < perTask; seq++) {
        log.info("work", { task, seq });
        if (seq % 250 === 249) await new Promise((r) => setTimeout(r, 0));
      }
    }));
    await log.flush();
    const lines = await readLines(`${dir}/${defaultLogFileName(FIXED)}`);
    assert.equal(lines.length, tasks * perTask);
    const next = new Array<number>(tasks).fill(0);
    const prefix = `${formatLogTimestamp(FIXED)} INFO work task=`;
    for (const line of lines) {
      assert.ok(line.startsWith(prefix), line);
      const m = /^(\d+) seq=(\d+)$/.exec(line.slice(prefix.length));
      assert.ok(m, line);
      const task = Number(m[1]);
      assert.equal(Number(m[2]), next[task], `task ${task} in order`);
      next[task]!++;
    }
    assert.deepEqual(next, new Array(tasks).fill(perTask));
    assert.equal(log.dropped, 0);
  });
});

Deno.test("a new day starts a new file, even within one batch", async () => {
  await withTempDir(async (dir) => {
    let now = new Date(2024, 2, 9, 23, 59, 59, 500);
    await using log = new AsyncLogger({ dir, clock: () => now });
    log.info("day1 a");
    log.warn("day1 b");
    const day1 = now;
    now = new Date(2024, 2, 10, 0, 0, 0, 100); // same synchronous burst: one batch, split
    log.info("day2 a");
    await log.flush();
    log.error("day2 b", { code: 7 });
    await log.flush();
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(names, ["2024-03-09-log.txt", "2024-03-10-log.txt"]);
    assert.deepEqual(await readLines(`${dir}/2024-03-09-log.txt`), [
      `${formatLogTimestamp(day1)} INFO day1 a`,
      `${formatLogTimestamp(day1)} WARN day1 b`,
    ]);
    assert.deepEqual(await readLines(`${dir}/2024-03-10-log.txt`), [
      `${formatLogTimestamp(now)} INFO day2 a`,
      `${formatLogTimestamp(now)} ERROR day2 b code=7`,
    ]);
    if (LINUX) {
      // The Worker keeps the current file open between batches and closed the previous one.
      const open = openFiles();
      assert.ok(open.includes(`${dir}/2024-03-10-log.txt`), "current file stays open");
      assert.ok(!open.includes(`${dir}/2024-03-09-log.txt`), "previous day's file is closed");
    }
  });
});

Deno.test("fileName decides the files: an hourly name rolls over every hour", async () => {
  await withTempDir(async (dir) => {
    let now = Date.UTC(2024, 0, 1, 10, 59);
    await using log = new AsyncLogger({
      dir,
      clock: () => now,
      fileName: (d) => `h${d.getUTCHours()}.log`,
    });
    log.info("ten");
    now += 60_000;
    log.info("eleven");
    await log.flush();
    assert.deepEqual(bodies(await readLines(`${dir}/h10.log`)), ["INFO ten"]);
    assert.deepEqual(bodies(await readLines(`${dir}/h11.log`)), ["INFO eleven"]);
  });
});

Deno.test("drop-newest: beyond maxQueue new lines are dropped, counted and reported", async () => {
  await withTempDir(async (dir) => {
    await using log = new AsyncLogger({ dir, maxQueue: 10, clock: () => FIXED });
    for (let i = 0; i < 100; i++) log.info(`line ${i}`); // no yield: the Worker gets nothing yet
    assert.equal(log.dropped, 90);
    await log.close();
    const expected = Array.from({ length: 10 }, (_, i) => `INFO line ${i}`);
    expected.push("WARN dropped 90 log lines");
    assert.deepEqual(bodies(await readLines(`${dir}/${defaultLogFileName(FIXED)}`)), expected);
    assert.equal(log.dropped, 90);
  });
});

Deno.test("drop-oldest: beyond maxQueue the oldest unsent lines are dropped", async () => {
  await withTempDir(async (dir) => {
    await using log = new AsyncLogger({
      dir,
      maxQueue: 10,
      overflow: "drop-oldest",
      clock: () => FIXED,
    });
    for (let i = 0; i < 100; i++) log.info(`line ${i}`);
    assert.equal(log.dropped, 90);
    await log.flush();
    // A second burst after capacity returned is reported separately.
    for (let i = 100; i < 125; i++) log.info(`line ${i}`);
    await log.close();
    const expected = Array.from({ length: 10 }, (_, i) => `INFO line ${90 + i}`);
    expected.push("WARN dropped 90 log lines");
    for (let i = 115; i < 125; i++) expected.push(`INFO line ${i}`);
    expected.push("WARN dropped 15 log lines");
    assert.deepEqual(bodies(await readLines(`${dir}/${defaultLogFileName(FIXED)}`)), expected);
    assert.equal(log.dropped, 105);
  });
});

Deno.test("drop-oldest keeps exactly the newest maxQueue lines of a long burst", async () => {
  await withTempDir(async (dir) => {
    await using log = new AsyncLogger({
      dir,
      maxQueue: 100,
      overflow: "drop-oldest",
      clock: () => FIXED,
    });
    for (let i = 0; i < 20_000; i++) log.info(`n${i}`);
    await log.close();
    const expected = Array.from({ length: 100 }, (_, i) => `INFO n${19_900 + i}`);
    expected.push("WARN dropped 19900 log lines");
    assert.deepEqual(bodies(await readLines(`${dir}/${defaultLogFileName(FIXED)}`)), expected);
  });
});

Deno.test("the drop warning is written even when the level is above WARN", async () => {
  await withTempDir(async (dir) => {
    await using log = new AsyncLogger({ dir, level: "ERROR", maxQueue: 4, clock: () => FIXED });
    for (let i = 0; i < 6; i++) log.error(`e${i}`);
    await log.flush();
    await log.flush(); // the warning was queued by the first acknowledgement
    assert.deepEqual(bodies(await readLines(`${dir}/${defaultLogFileName(FIXED)}`)), [
      "ERROR e0",
      "ERROR e1",
      "ERROR e2",
      "ERROR e3",
      "WARN dropped 2 log lines",
    ]);
  });
});

Deno.test("flush() makes every line readable; close() writes the last lines, terminates the Worker, is idempotent", async () => {
  await withTempDir(async (dir) => {
    const workers = spyWorkers();
    let log: AsyncLogger;
    try {
      log = new AsyncLogger({ dir: `${dir}/nested/logs`, clock: () => FIXED });
    } finally {
      workers.restore();
    }
    assert.equal(workers.created, 1);
    const file = `${dir}/nested/logs/${defaultLogFileName(FIXED)}`;
    log.info("first", { user: "ann lee", ok: true });
    await log.flush();
    assert.deepEqual(bodies(await readLines(file)), ['INFO first user="ann lee" ok=true']);
    if (LINUX) assert.ok(openFiles().includes(file), "the Worker holds the file open");
    log.info("just before close");
    log.critical("last");
    assert.equal(log.state, "open");
    const closing = log.close();
    assert.equal(log.state, "closing");
    assert.equal(workers.terminated, 0, "the Worker is terminated only after the last write");
    assert.equal(log.close(), closing, "close() returns the same promise");
    log.info("after close() was called"); // discarded and counted
    await closing;
    await log.closed;
    assert.equal(log.state, "closed");
    assert.equal(workers.terminated, 1, "the Worker was terminated");
    await log.close(); // still fine once closed
    await log[Symbol.asyncDispose]();
    log.error("after close"); // discarded and counted
    assert.equal(log.dropped, 2);
    await log.flush(); // nothing pending: resolves
    assert.deepEqual(bodies(await readLines(file)), [
      'INFO first user="ann lee" ok=true',
      "INFO just before close",
      "CRITICAL last",
    ]);
    assert.equal(workers.terminated, 1, "close() terminates once");
    if (LINUX) assert.ok(!openFiles().includes(file), "the log file is closed");
  });
});

Deno.test("level filtering: lines below the level are not written; level can change", async () => {
  await withTempDir(async (dir) => {
    await using log = new AsyncLogger({ dir, clock: () => FIXED });
    assert.equal(log.level, "INFO");
    log.debug("hidden");
    log.info("shown");
    log.level = "DEBUG";
    log.debug("now shown");
    log.level = "ERROR";
    log.warn("hidden too");
    log.error("error shown");
    log.level = "NOTSET";
    log.debug("everything");
    assert.throws(() => (log.level = "LOUD" as never), TypeError);
    await log.flush();
    assert.deepEqual(bodies(await readLines(`${dir}/${defaultLogFileName(FIXED)}`)), [
      "INFO shown",
      "DEBUG now shown",
      "ERROR error shown",
      "DEBUG everything",
    ]);
  });
});

Deno.test("non-ASCII lines longer than the first buffer estimate are encoded intact", async () => {
  await withTempDir(async (dir) => {
    await using log = new AsyncLogger({ dir, clock: () => FIXED });
    const big = "日本語✓é😀".repeat(20_000);
    log.info(big);
    log.info("after ✓");
    await log.flush();
    assert.deepEqual(bodies(await readLines(`${dir}/${defaultLogFileName(FIXED)}`)), [
      `INFO ${big}`,
      "INFO after ✓",
    ]);
  });
});

Deno.test("flushIntervalMs delays the first send; flush() and close() do not wait for it", async () => {
  await withTempDir(async (dir) => {
    const log = new AsyncLogger({ dir, flushIntervalMs: 60_000, clock: () => FIXED });
    log.info("a");
    await log.flush();
    log.info("b"); // a 60 s timer is pending: close() must cancel it (ops sanitizer)
    await log.close();
    assert.deepEqual(bodies(await readLines(`${dir}/${defaultLogFileName(FIXED)}`)), [
      "INFO a",
      "INFO b",
    ]);
  });
});

Deno.test("a failed write rejects flush(), counts the lines as dropped, and later writes work", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/blocked`); // a directory where the file should be: open fails
    let name = "blocked";
    const original = console.error;
    const printed: string[] = [];
    console.error = (...a: unknown[]) => void printed.push(a.join(" "));
    try {
      await using log = new AsyncLogger({ dir, fileName: () => name });
      log.info("lost 1");
      log.info("lost 2");
      await assert.rejects(log.flush(), /log write failed/);
      assert.equal(log.dropped, 2);
      assert.equal(printed.length, 1, "the failure is reported once on stderr");
      name = "ok.log";
      log.info("kept");
      await log.flush();
      await log.flush();
      assert.deepEqual(bodies(await readLines(`${dir}/ok.log`)), [
        "INFO kept",
        "WARN dropped 2 log lines",
      ]);
    } finally {
      console.error = original;
    }
  });
});

Deno.test("a failed write while stderr throws still rejects flush() and counts the drop (no uncaught error)", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/blocked`); // a directory where the file should be: open fails
    const original = console.error;
    console.error = () => {
      throw new Deno.errors.BrokenPipe("stderr closed");
    };
    try {
      await using log = new AsyncLogger({ dir, fileName: () => "blocked" });
      log.info("lost");
      await assert.rejects(log.flush(), /log write failed/);
      assert.equal(log.dropped, 1);
    } finally {
      console.error = original;
    }
  });
});

Deno.test("a log call with bigint, self-referencing, Error or non-cloneable fields never throws and reaches the file", async () => {
  await withTempDir(async (dir) => {
    await using log = new AsyncLogger({ dir, clock: () => FIXED });
    const cyclic: Record<string, unknown> = { id: 7 };
    cyclic.self = cyclic;
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    log.info("id", { id: 12345678901234567890n });
    log.info("cyclic", { value: cyclic });
    log.error("failed", { err: new Error("boom", { cause: new Error("inner") }) });
    log.warn("odd", { fn: () => 1, sym: Symbol("s"), proxy, nested: { n: 2n, nan: NaN } });
    await log.flush();
    const lines = bodies(await readLines(`${dir}/${defaultLogFileName(FIXED)}`));
    assert.equal(lines.length, 4);
    assert.equal(lines[0], "INFO id id=12345678901234567890");
    assert.equal(lines[1], 'INFO cyclic value={"id":7,"self":"[Circular]"}');
    assert.match(
      lines[2]!,
      /^ERROR failed err=\{"name":"Error","message":"boom","cause":\{"name":"Error","message":"inner","stack":"Error: inner\\n.*"stack":"Error: boom\\n/,
    );
    assert.match(
      lines[3]!,
      /^WARN odd fn="\[Function: fn\]" sym=Symbol\(s\) proxy="\[Unreadable: TypeError: .*revoked.*\]" nested=\{"n":2,"nan":"NaN"\}$/,
    );
    assert.equal(log.dropped, 0);
  });
});

Deno.test("a throwing clock or fileName option drops the line (counted) instead of throwing into the caller", async () => {
  await withTempDir(async (dir) => {
    const original = console.error;
    const printed: string[] = [];
    console.error = (...a: unknown[]) => void printed.push(a.join(" "));
    try {
      let broken = true;
      await using log = new AsyncLogger({
        dir,
        clock: () => FIXED,
        fileName: () => broken ? "" : "ok.log",
      });
      log.info("lost 1");
      log.info("lost 2");
      assert.equal(log.dropped, 2);
      assert.equal(printed.length, 1, "said once on stderr");
      assert.match(
        printed[0]!,
        /cannot format a log line: .*fileName\(\) must return a non-empty string/,
      );
      broken = false;
      log.info("kept", { at: 1 });
      await log.flush();
      await log.flush(); // the drop warning follows the first acknowledged batch
      assert.deepEqual(bodies(await readLines(`${dir}/ok.log`)), [
        "INFO kept at=1",
        "WARN dropped 2 log lines",
      ]);
    } finally {
      console.error = original;
    }
  });
});

Deno.test("console: true prints every line to stderr synchronously; no dir means console only", async () => {
  const original = console.error;
  const printed: string[] = [];
  console.error = (...a: unknown[]) => void printed.push(a.join(" "));
  try {
    await withTempDir(async (dir) => {
      await using log = new AsyncLogger({ dir, console: true, clock: () => FIXED });
      log.info("both", { n: 1 });
      assert.deepEqual(printed, [`${formatLogTimestamp(FIXED)} INFO both n=1`]);
      await log.flush();
      assert.deepEqual(bodies(await readLines(`${dir}/${defaultLogFileName(FIXED)}`)), [
        "INFO both n=1",
      ]);
    });
    printed.length = 0;
    await using plain = new AsyncLogger({ level: "WARN", clock: () => FIXED });
    plain.info("below WARN");
    plain.warn("console only");
    await plain.flush();
    assert.deepEqual(printed, [`${formatLogTimestamp(FIXED)} WARN console only`]);
    assert.equal(plain.dropped, 0);
  } finally {
    console.error = original;
  }
});

Deno.test("bad options are rejected with the offending value", () => {
  assert.throws(
    () => new AsyncLogger({ maxQueue: 0 }),
    /maxQueue must be a positive integer, got 0/,
  );
  assert.throws(() => new AsyncLogger({ batchLines: 1.5 }), RangeError);
  assert.throws(() => new AsyncLogger({ overflow: "block" as never }), /got block/);
  assert.throws(() => new AsyncLogger({ level: "LOUD" as never }), TypeError);
  assert.throws(() => new AsyncLogger({ flushIntervalMs: -1 }), RangeError);
});

Deno.test("works when imported by URL from a (local) HTTP server, Worker included", async () => {
  await withTempDir(async (dir) => {
    const root = new URL("../../src/log/", import.meta.url);
    const ac = new AbortController();
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      signal: ac.signal,
      onListen() {},
    }, async (req) => {
      const name = new URL(req.url).pathname.slice(1);
      if (!/^[a-z_]+\.ts$/.test(name)) return new Response("not found", { status: 404 });
      try {
        const body = await Deno.readFile(new URL(name, root));
        return new Response(body, { headers: { "content-type": "application/typescript" } });
      } catch {
        return new Response("not found", { status: 404 });
      }
    });
    try {
      // A child process with --no-lock: remote modules on a random port must not land in the
      // project's deno.lock.
      const url = `http://127.0.0.1:${server.addr.port}/async_logger.ts`;
      const script = `${dir}/remote_logger.ts`;
      await Deno.writeTextFile(
        script,
        `const { AsyncLogger } = await import(${JSON.stringify(url)});
        const log = new AsyncLogger({ dir: ${
          JSON.stringify(dir)
        }, clock: () => new Date(${FIXED.getTime()}) });
        log.info("remote");
        await log.close();`,
      );
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--no-lock", "--quiet", script],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      assert.deepEqual(bodies(await readLines(`${dir}/${defaultLogFileName(FIXED)}`)), [
        "INFO remote",
      ]);
    } finally {
      ac.abort();
      await server.finished;
    }
  });
});
