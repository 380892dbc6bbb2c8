import assert from "node:assert/strict";
import { AsyncLogger } from "../../src/log/async_logger.ts";
import { defaultLogFileName } from "../../src/log/log_format.ts";
import { ConsoleLogger, type LogFields, type Logger } from "../../src/log/logger.ts";
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

Deno.test("log.error(msg, err) through the handler writes the error's name, message, cause and stack, not args=[{}]", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mprpc_std_" });
  try {
    const now = new Date(2024, 6, 1, 8, 0);
    await using logger = new AsyncLogger({ dir, clock: () => now });
    using h = new AsyncLoggerHandler("INFO", { logger });
    const err = new Error("request failed", { cause: new TypeError("socket closed") });
    h.handle(rec("request failed", 40, [err]));
    h.handle(rec("two errors", 40, [err, new RangeError("second")]));
    await logger.flush();
    const lines = (await Deno.readTextFile(`${dir}/${defaultLogFileName(now)}`)).split("\n");
    assert.match(
      lines[0]!,
      /^\S+ ERROR request failed args=\[\{"name":"Error","message":"request failed","cause":\{"name":"TypeError","message":"socket closed","stack":"TypeError: socket closed\\n.*\},"stack":"Error: request failed\\n/,
    );
    assert.match(lines[1]!, /"message":"request failed".*\{"name":"RangeError","message":"second"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("odd std/log arguments (bigint, cycles, throwing getters) never make handle() throw", () => {
  const printed: string[] = [];
  const original = console.error;
  console.error = (...a: unknown[]) => void printed.push(a.join(" "));
  try {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const hostile = {
      ok: 1,
      get bad(): never {
        throw new Error("getter");
      },
    };
    const logger = new ConsoleLogger("DEBUG");
    const h = new AsyncLoggerHandler("DEBUG", { logger });
    h.handle(rec("big", 20, [12345678901234567890n]));
    h.handle(rec("cyclic", 20, [cyclic]));
    h.handle(rec("hostile", 20, [hostile]));
    h.handle(rec("list", 20, [cyclic, 1n]));
    assert.match(printed[0]!, / INFO big args=\[12345678901234567890\]$/);
    assert.match(printed[1]!, / INFO cyclic self=\{"self":"\[Circular\]"\}$/);
    assert.match(printed[2]!, / INFO hostile ok=1 bad="\[Unreadable: Error: getter\]"$/);
    assert.match(printed[3]!, / INFO list args=\[\{"self":"\[Circular\]"\},1\]$/);
  } finally {
    console.error = original;
  }
});

Deno.test("a throwing formatter or logger does not make handle() or log() throw", () => {
  const printed: string[] = [];
  const original = console.error;
  console.error = (...a: unknown[]) => void printed.push(a.join(" "));
  try {
    const logger = recorder();
    const h = new AsyncLoggerHandler("INFO", {
      logger,
      formatter: () => {
        throw new Error("bad format");
      },
    });
    h.handle(rec("kept", 20, [], "app"));
    assert.deepEqual(logger.calls, [
      ["info", "kept", { formatterError: "[Unreadable: Error: bad format]", logger: "app" }],
    ]);
    const throwing = {
      ...recorder(),
      info: () => {
        throw new Error("sink down");
      },
    };
    const h2 = new AsyncLoggerHandler("INFO", { logger: throwing });
    h2.handle(rec("lost", 20));
    h2.log("lost too");
    assert.equal(printed.length, 2);
    assert.match(printed[0]!, /a log record was lost: .*sink down/);
  } finally {
    console.error = original;
  }
});

/** Shaped like std/log's own `jsonFormatter`: typed with std's LogRecord class (#private fields). */
function jsonFormatter(logRecord: LogRecord): string {
  return JSON.stringify({ level: logRecord.levelName, message: logRecord.msg });
}

Deno.test("a std/log formatter typed with std's LogRecord class is accepted without a cast", () => {
  const logger = recorder();
  const h = new AsyncLoggerHandler("INFO", { logger, formatter: jsonFormatter });
  h.handle(rec("hello", 20));
  h.formatter = jsonFormatter;
  h.handle(rec("again", 30));
  assert.deepEqual(logger.calls, [
    ["info", '{"level":"INFO","message":"hello"}', undefined],
    ["warn", '{"level":"WARN","message":"again"}', undefined],
  ]);
});
