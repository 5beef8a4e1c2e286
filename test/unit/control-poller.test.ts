import { describe, expect, it } from 'vitest';
import { CONTROL_POLL_MS, ControlPoller, PAUSED_POLL_MS } from '../../activities/stream/control-poller';
import type { StreamControl } from '../../common/stream';

describe('stream control poller', () => {
  it('asks the workflow every second and keeps what it said', async () => {
    const answers: StreamControl[] = [{ paused: true, limit: { rowsPerSecond: 10 } }];
    const poller = new ControlPoller(async () => answers.shift() ?? {});
    expect(poller.due(Date.now())).toBe(true);
    await poller.poll();
    expect(poller.paused).toBe(true);
    expect(poller.limit).toEqual({ rowsPerSecond: 10 });
    expect(poller.due(Date.now())).toBe(false);
    expect(poller.due(Date.now() + CONTROL_POLL_MS)).toBe(true);
    await poller.poll();
    expect(poller.paused).toBe(false);
    expect(poller.limit).toEqual({});
  });

  it('asks again within PAUSED_POLL_MS while paused, so a resume takes effect at once', async () => {
    const answers: StreamControl[] = [{ paused: true }, {}];
    const poller = new ControlPoller(async () => answers.shift() ?? {});
    await poller.poll();
    const polledAt = Date.now();
    expect(PAUSED_POLL_MS).toBeLessThan(CONTROL_POLL_MS);
    expect(poller.due(polledAt + PAUSED_POLL_MS)).toBe(true);
    expect(poller.untilDue(polledAt)).toBeLessThanOrEqual(PAUSED_POLL_MS); // how long the paused loop sleeps
    await poller.poll(); // resumed: back to once a second
    expect(poller.paused).toBe(false);
    expect(poller.due(Date.now() + PAUSED_POLL_MS)).toBe(false);
    expect(poller.untilDue(Date.now())).toBeGreaterThan(PAUSED_POLL_MS);
  });

  it('stops once the cutover position is applied', async () => {
    const poller = new ControlPoller(async () => ({ stopAtLsn: '0/200' }));
    expect(poller.stopReached(0x200n)).toBe(false); // not asked yet
    await poller.poll();
    expect(poller.stopReached(0x1ffn)).toBe(false);
    expect(poller.stopReached(0x200n)).toBe(true);
  });

  it('after a marker, waits a moment for the workflow to learn its position', async () => {
    const answers: StreamControl[] = [{}, {}, { stopAtLsn: '0/100' }];
    const poller = new ControlPoller(async () => answers.shift() ?? {});
    await expect(poller.awaitStopAt(0x100n)).resolves.toBe(true);
    expect(answers).toHaveLength(0);
  });

  it('goes on after a marker the workflow never names (an abandoned cutover)', async () => {
    const poller = new ControlPoller(async () => ({}));
    await expect(poller.awaitStopAt(0x100n, 120)).resolves.toBe(false);
  });
});
