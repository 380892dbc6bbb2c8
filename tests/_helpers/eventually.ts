/** Polling helper for integration tests that wait on another process (ZooKeeper, providers). */

/** Polls `fn` every `everyMs` until it returns a truthy value; throws after `ms`. */
export async function eventually<T>(
  what: string,
  fn: () => Promise<T> | T,
  ms = 10_000,
  everyMs = 25,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`, { cause: last });
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
