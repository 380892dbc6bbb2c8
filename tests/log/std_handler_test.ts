import assert from "node:assert/strict";
import { AsyncLogger } from "../../src/log/async_logger.ts";
import { defaultLogFileName } from "../../src/log/log_format.ts";
import type { LogFields, Logger } from "../../src/log/logger.ts";
import { AsyncLoggerHandler, type StdLogRecord } from "../../src/log/std_handler.ts";

/** Shaped like std/log's LogRecord class: getters for `args` (a copy) and `datetime`. */
class LogRecord implements StdLogRecord {
  readonly msg: string;
  readonly level: number;
  readonly levelName: string;
  readonly loggerName: string;
  #args: unknown[];
  #datetime = new Date();
  constructor(o: { msg: string; args: unknown[]; level: number; loggerName: string }) {
    this.msg = o.msg;
    this.#args = [...o.args];
    this.level = o.level;
    this.levelName = ["NOTSET", "DEBUG", "INFO", "WARN", "ERROR", "CRITICAL"][o.level / 10]!;
    this.loggerName = o.loggerName;
  }
  get args(): unknown[] {
    return [...this.#args];
  }
  get datetime(): Date {
    return new Date(this.#datetime.getTime());
  }
}

function recorder(): Logger & { calls: [string, string, LogFields | undefined][] } {
  const calls: [string, string, LogFields | undefined][] = [];
  const at = (level: string) => (msg: string, fields?: LogFields) =>
    void calls.push([level, msg, fields]);
  return {
    calls,
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    critical: at("critical"),
  };
}

const rec = (msg: string, level: number, args: unknown[] = [], loggerName = "default") =>
  new LogRecord({ msg, args, level, loggerName });

Deno.test("handle() forwards records at or above the handler level to the matching method", () => {
  const logger = recorder();
  const h = new AsyncLoggerHandler("INFO", { logger });
  assert.equal(h.level, 20);
  assert.equal(h.levelName, "INFO");
  h.setup();
  h.handle(rec("dbg", 10));
  h.handle(rec("inf", 20));
  h.handle(rec("wrn", 30));
  h.handle(rec("err", 40));
  h.handle(rec("crit", 50));
  h.destroy();
  assert.deepEqual(logger.calls, [
    ["info", "inf", undefined],
    ["warn", "wrn", undefined],
    ["error", "err", undefined],
    ["critical", "crit", undefined],
  ]);
});

Deno.test("loggerName and args become fields; a single plain object is spread", () => {
  const logger = recorder();
  const h = new AsyncLoggerHandler("DEBUG", { logger });
  h.handle(rec("one", 20, [{ user: "ann", id: 3 }], "app"));
  h.handle(rec("two", 10, [1, "x"]));
  h.handle(rec("three", 30, [new Error("boom")], "db"));
  assert.deepEqual(logger.calls, [
    ["info", "one", { logger: "app", user: "ann", id: 3 }],
    ["debug", "two", { args: [1, "x"] }],
    ["warn", "three", { logger: "db", args: [new Error("boom")] }],
  ]);
});

Deno.test("level and levelName setters stay consistent; unknown names are rejected", () => {
  const logger = recorder();
  const h = new AsyncLoggerHandler("WARN", { logger });
  h.level = 40;
  assert.equal(h.levelName, "ERROR");
  h.handle(rec("w", 30));
  h.levelName = "DEBUG";
  assert.equal(h.level, 10);
  h.handle(rec("d", 10));
  assert.deepEqual(logger.calls, [["debug", "d", undefined]]);
  assert.throws(() => (h.levelName = "LOUD" as never), TypeError);
  assert.throws(() => new AsyncLoggerHandler("LOUD" as never, { logger }), TypeError);
});

Deno.test("format() uses the formatter; log() writes a preformatted message at the handler level", () => {
  const logger = recorder();
  const h = new AsyncLoggerHandler("ERROR", {
    logger,
    formatter: (r) => `[${r.loggerName}] ${r.msg} (${r.args.length})`,
  });
  assert.equal(h.format(rec("m", 40, [1, 2], "svc")), "[svc] m (2)");
  h.handle(rec("m", 40, [], "svc"));
  h.log("raw line");
  const low = new AsyncLoggerHandler("DEBUG", { logger });
  low.log("raw at least INFO");
  assert.deepEqual(logger.calls, [
    ["error", "[svc] m (0)", { logger: "svc" }],
    ["error", "raw line", undefined],
    ["info", "raw at least INFO", undefined],
  ]);
});

Deno.test("records routed through the handler reach the AsyncLogger's file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mprpc_std_" });
  try {
    const now = new Date(2024, 6, 1, 8, 0);
    await using logger = new AsyncLogger({ dir, clock: () => now });
    using h = new AsyncLoggerHandler("INFO", { logger });
    // What std/log's Logger does for each of its handlers:
    for (const r of [rec("skipped", 10), rec("hello", 20, [{ port: 8000 }], "rpc")]) h.handle(r);
    await logger.flush();
    const text = await Deno.readTextFile(`${dir}/${defaultLogFileName(now)}`);
    assert.match(text, /^\S+ INFO hello logger=rpc port=8000\n$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
