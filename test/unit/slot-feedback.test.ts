// The standby status updates the stream sends: positions as the meter has them, written never behind flushed.
import { describe, expect, it } from 'vitest';
import { SlotFeedback } from '../../activities/stream/slot-feedback';

/** The three positions of a standby status update ('r', written, flushed, applied, clock, reply). */
function positions(frame: Buffer) {
  return { written: frame.readBigUInt64BE(1), flushed: frame.readBigUInt64BE(9), applied: frame.readBigUInt64BE(17), reply: frame[33] === 1 };
}

describe('SlotFeedback', () => {
  it('reports what was received and what the target committed', () => {
    const sent: Buffer[] = [];
    const meter = { received: 500n, confirmed: 300n, statusSentAt: 0 };
    new SlotFeedback((f) => sent.push(f), meter).send(true);
    expect(positions(sent[0])).toEqual({ written: 500n, flushed: 300n, applied: 300n, reply: true });
    expect(meter.statusSentAt).toBeGreaterThan(0);
  });

  it('never reports written behind flushed (a quiet stream confirmed past its last transaction)', () => {
    const sent: Buffer[] = [];
    new SlotFeedback((f) => sent.push(f), { received: 300n, confirmed: 800n, statusSentAt: 0 }).send();
    expect(positions(sent[0])).toEqual({ written: 800n, flushed: 800n, applied: 800n, reply: false });
  });

  it('sends again only once the last update is old enough', () => {
    const sent: Buffer[] = [];
    const meter = { received: 1n, confirmed: 1n, statusSentAt: 0 };
    const feedback = new SlotFeedback((f) => sent.push(f), meter);
    feedback.send();
    feedback.sendIfDue(meter.statusSentAt + 1_000);
    expect(sent).toHaveLength(1);
    feedback.sendIfDue(meter.statusSentAt + 5_000);
    expect(sent).toHaveLength(2);
  });
});
