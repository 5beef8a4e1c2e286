import { describe, expect, it } from 'vitest';
import { StreamDdl } from '../../activities/stream/stream-ddl';
import type { LogicalMessage } from '../../activities/stream/pgoutput-types';
import type { DdlMessage, DdlRecord } from '../../common/ddl';

function message(prefix: string, lsn: bigint, content: object): LogicalMessage {
  return { tag: 'message', prefix, lsn, transactional: true, content: Buffer.from(JSON.stringify(content)) } as LogicalMessage;
}

function fakes() {
  const seen: Array<{ message: DdlMessage; lsn: string }> = [];
  let stale = 0;
  let ended = 0;
  const applier = {
    apply: async (m: DdlMessage, lsn: string): Promise<DdlRecord> => {
      seen.push({ message: m, lsn });
      return { lsn, tag: m.tag, statement: 'ALTER TABLE t ADD c int', action: 'applied' };
    },
    endTransaction: () => void (ended += 1),
  };
  const relations = { markStale: () => void (stale += 1) };
  return { applier, relations, seen, stale: () => stale, ended: () => ended };
}

describe('replicated DDL in the change stream', () => {
  it('knows the capture messages by their prefix', () => {
    const f = fakes();
    const ddl = new StreamDdl(f.applier, 'pgferry_ddl_m1', f.relations);
    expect(ddl.captured(message('pgferry_ddl_m1', 1n, {}))).toBe(true);
    expect(ddl.captured(message('pgferry_cutover', 1n, {}))).toBe(false);
  });

  it('applies a command at its position, checks relations again and asks for a commit', async () => {
    const f = fakes();
    const ddl = new StreamDdl(f.applier, 'p', f.relations);
    expect(ddl.commitNow).toBe(false);
    await ddl.apply(message('p', 0x1a0n, { tag: 'ALTER TABLE' }));
    expect(f.seen).toEqual([{ message: { tag: 'ALTER TABLE' }, lsn: '0/1A0' }]);
    expect(f.stale()).toBe(1);
    expect(ddl.commitNow).toBe(true);
  });

  it('hands its records over once for the commit, and then no longer asks for one', async () => {
    const f = fakes();
    const ddl = new StreamDdl(f.applier, 'p', f.relations);
    await ddl.apply(message('p', 0x10n, { tag: 'CREATE TABLE' }));
    await ddl.apply(message('p', 0x20n, { tag: 'ALTER TABLE' }));
    expect(ddl.takeForCommit().map((r) => r.tag)).toEqual(['CREATE TABLE', 'ALTER TABLE']);
    expect(ddl.commitNow).toBe(false);
    expect(ddl.takeForCommit()).toEqual([]);
    ddl.endTransaction();
    expect(f.ended()).toBe(1);
  });
});
