/**
 * The OpenTelemetry SDK for the tracing tests (dev-only: the library depends on the API alone).
 * Registers a tracer provider exporting to memory and the AsyncLocalStorage context manager;
 * `close()` unregisters both.
 */
// deno-lint-ignore-file no-import-prefix
import { context, trace } from "../../src/deps.ts";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "npm:@opentelemetry/sdk-trace-base@2.0.1";
import { AsyncLocalStorageContextManager } from "npm:@opentelemetry/context-async-hooks@2.0.1";

export type { ReadableSpan };

/** A registered SDK whose finished spans are in `spans()`. */
export class MemoryTracing {
  readonly exporter = new InMemorySpanExporter();
  readonly provider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(this.exporter)],
  });
  readonly contextManager = new AsyncLocalStorageContextManager();

  constructor() {
    if (!trace.setGlobalTracerProvider(this.provider)) {
      throw new Error("a tracer provider is already registered");
    }
    context.setGlobalContextManager(this.contextManager.enable());
  }

  /** The spans ended so far, in the order they ended. */
  spans(): ReadableSpan[] {
    return this.exporter.getFinishedSpans();
  }

  /** Unregisters the SDK. */
  async close(): Promise<void> {
    trace.disable();
    context.disable();
    await this.provider.forceFlush(); // the exporter acknowledges each span in a timer
    await this.provider.shutdown();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
