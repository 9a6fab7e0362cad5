/** Runs `work` on every item, at most `limit` at once; the first failure stops the rest and is rethrown. */
export async function runPool<T>(items: readonly T[], limit: number, abort: AbortController, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let firstError: unknown;
  const worker = async (): Promise<void> => {
    while (next < items.length && firstError === undefined) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (err) {
        if (firstError === undefined) firstError = err;
        abort.abort(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (firstError !== undefined) throw firstError;
}
