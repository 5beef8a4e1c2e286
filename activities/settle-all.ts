/**
 * Promise.all that waits for every task before it fails with the first failure: a resource a
 * task opened (a database session it stored for the caller's cleanup) is stored before that
 * cleanup runs, even when another task failed first.
 */
export async function settleAll<T extends readonly unknown[]>(tasks: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(tasks);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
