import { afterEach, describe, expect, it, vi } from 'vitest';

const MiB = 1024 * 1024;
const g = globalThis as { gc?: unknown };
const realGc = g.gc;

/** The module reads gc() once, when loaded: load it afresh with `gc` in place. */
async function loadWith(gc: unknown) {
  vi.resetModules();
  g.gc = gc;
  return import('../../activities/copy/relay-garbage');
}

afterEach(() => {
  g.gc = realGc;
});

describe('relay garbage', () => {
  it('collects the young generation once per 16 MiB relayed, by all relays together', async () => {
    const gc = vi.fn();
    const { relayed } = await loadWith(gc);
    for (let i = 0; i < 15; i += 1) relayed(MiB);
    expect(gc).not.toHaveBeenCalled();
    relayed(MiB);
    expect(gc).toHaveBeenCalledTimes(1);
    expect(gc).toHaveBeenCalledWith({ type: 'minor' });
    for (let i = 0; i < 32; i += 1) relayed(MiB);
    expect(gc).toHaveBeenCalledTimes(3);
  });

  it('is enabled in every launcher of the worker (their flags come from WORKER_NODE_FLAGS)', async () => {
    const { WORKER_NODE_FLAGS } = await import('../../worker/memory');
    expect(WORKER_NODE_FLAGS).toContain('--expose-gc');
  });

  it('does nothing when the worker was started without --expose-gc', async () => {
    const { relayed } = await loadWith(undefined);
    expect(() => relayed(64 * MiB)).not.toThrow();
  });
});
