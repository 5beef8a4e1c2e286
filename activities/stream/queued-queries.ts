/**
 * Statements queued on one connection and awaited together. node-postgres sends a queued
 * query the moment the answer to the one before arrives (inside the socket's read callback),
 * so a transaction's statements cost the worker one wait on its event loop instead of one per
 * statement. That matters in the change stream: while its loop is busy reading the source,
 * each such wait is milliseconds during which the target has nothing to do.
 *
 * The order is the order of the `client.query` calls, so each promise must have made its call
 * when it was created (an async function does, when it queries before its first await).
 */

/**
 * Waits for every one of `pending` (so none is left failing unobserved) and returns their
 * values in order, or throws the first failure in order: on one connection, that is the
 * statement at fault; the ones after it only failed because its transaction was aborted.
 */
export async function allInOrder<T extends readonly unknown[]>(pending: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const results = await Promise.allSettled(pending);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
