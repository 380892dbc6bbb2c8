/**
 * The writer thread of {@linkcode AsyncLogger}: a module Worker that appends encoded batches to
 * log files, keeping the current file open between batches, and acknowledges each batch.
 * Messages are handled one at a time with synchronous writes (this thread does nothing else),
 * so batches reach the file in the order they were sent. Internal: started by AsyncLogger.
 *
 * It imports nothing at run time, so it loads the same way from a local path or a remote URL.
 *
 * @module
 */

import type { FromWriter, ToWriter } from "./_log_protocol.ts";

interface WriterScope {
  onmessage: ((ev: MessageEvent<ToWriter>) => void) | null;
  postMessage(message: FromWriter, transfer?: Transferable[]): void;
}

const scope = globalThis as unknown as WriterScope;
let current: { path: string; file: Deno.FsFile } | undefined;

function closeCurrent(): void {
  const c = current;
  current = undefined;
  try {
    c?.file.close();
  } catch {
    // Already closed or never usable: nothing left to release.
  }
}

function write(path: string, data: Uint8Array): void {
  if (current === undefined || current.path !== path) {
    closeCurrent();
    current = { path, file: Deno.openSync(path, { append: true, create: true }) };
  }
  let off = 0;
  while (off < data.length) off += current.file.writeSync(data.subarray(off));
}

scope.onmessage = (ev) => {
  const m = ev.data;
  if (m.type === "write") {
    let error: string | undefined;
    try {
      write(m.path, new Uint8Array(m.buffer, 0, m.length));
    } catch (err) {
      // Inline: the writer Worker imports nothing outside src/log/ (served alone by URL).
      error = err instanceof Error ? err.message : String(err);
      closeCurrent(); // reopen on the next batch, in case the failure was transient
    }
    scope.postMessage({ type: "ack", id: m.id, buffer: m.buffer, error }, [m.buffer]);
  } else if (m.type === "close") {
    closeCurrent();
    scope.postMessage({ type: "closed" });
  }
};
