import { describe, expect, it } from 'vitest';
import { LagBeat, SOURCE_BEAT_MS, type SourceBeats } from '../../activities/stream/lag-beat';
import { StreamMeter } from '../../activities/stream/stream-meter';

function source(refuses: boolean) {
  const calls: string[] = [];
  let lsn = 0x1000n;
  const beats: SourceBeats = {
    write: async () => {
      calls.push('write');
      lsn += 0x10n;
      return refuses ? undefined : { lsn, sourceNowMs: 5_000, at: 5_000 };
    },
    readEnd: async () => {
      calls.push('readEnd');
      lsn += 0x10n;
      return lsn;
    },
  };
  return { beats, calls };
}

describe('lag beat (heartbeats in the source WAL)', () => {
  it('writes a heartbeat a second, and the meter learns the source end from it', async () => {
    const { beats, calls } = source(false);
    const meter = new StreamMeter();
    const lag = new LagBeat(beats, meter, 0);
    await lag.first();
    expect(meter.sourceEnd).toBe(0x1010n);
    const t = Date.now();
    await lag.beatIfDue(t + SOURCE_BEAT_MS - 1_000);
    expect(calls).toEqual(['write']);
    await lag.beatIfDue(t + SOURCE_BEAT_MS + 1);
    await lag.beatIfDue(t + SOURCE_BEAT_MS + 2);
    expect(calls).toEqual(['write', 'write']);
  });

  it('reads the source end instead once the source refuses heartbeats, and does not ask again', async () => {
    const { beats, calls } = source(true);
    const meter = new StreamMeter();
    const lag = new LagBeat(beats, meter);
    await lag.beat();
    await lag.beat();
    expect(calls).toEqual(['write', 'readEnd', 'readEnd']);
    expect(meter.sourceEnd).toBe(0x1030n);
  });
});
