import { describe, expect, it } from 'vitest';
import { allInOrder } from '../../activities/stream/queued-queries';

const after = <T>(ms: number, value: T) => new Promise<T>((r) => setTimeout(() => r(value), ms));
const failAfter = (ms: number, message: string) => new Promise<never>((_, reject) => setTimeout(() => reject(new Error(message)), ms));

describe('allInOrder', () => {
  it('returns every value in order, whatever order they settle in', async () => {
    expect(await allInOrder([after(20, 'a'), after(1, 'b'), Promise.resolve(3)])).toEqual(['a', 'b', 3]);
  });

  it('throws the first failure in order (the statement at fault), not the first in time', async () => {
    // On one connection the statements after a failed one fail too ("current transaction is aborted").
    await expect(allInOrder([after(1, 'ok'), failAfter(20, 'duplicate key'), failAfter(5, 'transaction is aborted')])).rejects.toThrow('duplicate key');
  });

  it('settles only when every one has settled, so none fails unobserved after it returns', async () => {
    let lateSettled = false;
    const late = after(30, 'late').then((v) => {
      lateSettled = true;
      return v;
    });
    await expect(allInOrder([Promise.reject(new Error('first')), late])).rejects.toThrow('first');
    expect(lateSettled).toBe(true);
  });
});
