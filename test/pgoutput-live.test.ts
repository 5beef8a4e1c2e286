/**
 * The CDC wire layer against a real PostgreSQL 15: a pgoutput slot, a CopyBoth stream through
 * pg-copy-streams, frames and messages decoded by pgferry's own parsers, keepalives answered,
 * and the confirmed position checked on the server. Needs no Temporal server.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatLsn, parseLsn } from '../common/lsn';
import { decodePgOutput } from '../activities/stream/pgoutput-decoder';
import { UNCHANGED_TOAST, type CommitMessage, type PgOutputMessage, type TupleValue, type XLogData } from '../activities/stream/pgoutput-types';
import { parseCopyBothFrame, standbyStatusUpdate } from '../activities/stream/replication-frames';
import { ReplicationStream } from '../activities/stream/replication-stream';
import { startPostgres, type PgCluster } from '../launch/postgres';
import { walStartOf } from './support/frame-source';

// Random base64 (~1.6 MB): far above the TOAST threshold and incompressible, so it is stored
// out of line and an update that does not touch it sends `u` (unchanged TOAST) for it.
const BIG = randomBytes(1_200_000).toString('base64');
const UTF8 = 'héllo ☃ 🚀 日本語';
// The client clock sent in the last status updates, checked back in pg_stat_replication.reply_time.
const CLIENT_TIME = BigInt(Date.parse('2026-01-02T03:04:05.678Z')) * 1000n + 901n;

let pg: PgCluster;
let db: Client | undefined;
let repl: Client | undefined;

beforeAll(async () => {
  // A short sender timeout: the server asks for a reply (keepalive `k` with the flag set) after 2 s.
  pg = await startPostgres({ name: 'pgoutput', logical: true, settings: { wal_sender_timeout: '4s' } });
  await pg.query(`
    CREATE TYPE mood AS ENUM ('ok', 'sad');
    CREATE TABLE items (id int PRIMARY KEY, name text, body text);
    CREATE TABLE notes (note text, n int, mood mood);
    ALTER TABLE notes REPLICA IDENTITY FULL;
    CREATE PUBLICATION pub FOR TABLE items, notes;
    SELECT pg_replication_origin_create('upstream');
  `);
});

afterAll(async () => {
  await db?.end().catch(() => undefined);
  await repl?.end().catch(() => undefined);
  await pg?.stop();
});

/** Compact, comparable form of a decoded message; long values become their length. */
function summarize(msg: PgOutputMessage, names: Map<number, string>): string {
  const tuple = (t: TupleValue[]) => '[' + t.map((v) => (v === UNCHANGED_TOAST ? 'TOAST' : v === null ? 'null' : v.length > 100 ? `<${v.length} chars>` : JSON.stringify(v))).join(',') + ']';
  switch (msg.tag) {
    case 'begin':
      return 'begin';
    case 'commit':
      return 'commit';
    case 'relation':
      return `relation ${msg.schema}.${msg.name} ${msg.replicaIdentity} ${msg.columns.map((c) => c.name + (c.isKey ? '*' : '')).join(',')}`;
    case 'type':
      return `type ${msg.schema}.${msg.name}`;
    case 'origin':
      return `origin ${msg.name} ${formatLsn(msg.lsn)}`;
    case 'insert':
      return `insert ${names.get(msg.relationId)} ${tuple(msg.newTuple)}`;
    case 'update':
      return `update ${names.get(msg.relationId)} ${msg.oldTuple ? `${msg.oldKind} ${tuple(msg.oldTuple)} ` : ''}new ${tuple(msg.newTuple)}`;
    case 'delete':
      return `delete ${names.get(msg.relationId)} ${msg.oldKind} ${tuple(msg.oldTuple)}`;
    case 'truncate':
      return `truncate ${msg.relationIds.map((id) => names.get(id)).sort().join(',')}${msg.cascade ? ' cascade' : ''}${msg.restartIdentity ? ' restart' : ''}`;
    case 'message':
      return `message ${msg.transactional ? 'tx' : 'non-tx'} ${msg.prefix} ${JSON.stringify(msg.content.toString('utf8'))}`;
  }
}

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, failure: () => Error | undefined, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const err = failure();
    if (err) throw err;
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('pgoutput over a real replication stream', () => {
  it('decodes every change kind and confirms the applied position', async () => {
    repl = new Client({ host: pg.host, port: pg.port, user: 'postgres', database: 'postgres', replication: 'database' } as ConstructorParameters<typeof Client>[0]);
    await repl.connect();
    const created = await repl.query<{ slot_name: string; consistent_point: string; output_plugin: string }>(`CREATE_REPLICATION_SLOT s LOGICAL pgoutput (SNAPSHOT 'nothing')`);
    const { consistent_point: consistentPoint } = created.rows[0];
    expect(created.rows[0]).toMatchObject({ slot_name: 's', output_plugin: 'pgoutput' });
    const startLsn = parseLsn(consistentPoint);
    expect(formatLsn(startLsn)).toBe(consistentPoint);

    db = new Client({ host: pg.host, port: pg.port, user: 'postgres', database: 'postgres' });
    await db.connect();
    const madeFrom = BigInt(Date.now()) * 1000n;
    await db.query('INSERT INTO items VALUES (1, $1, $2)', ['first', BIG]);
    await db.query(`UPDATE items SET name = 'renamed' WHERE id = 1`);
    await db.query('UPDATE items SET id = 2 WHERE id = 1');
    await db.query('INSERT INTO items VALUES (3, $1, NULL)', [UTF8]);
    await db.query(`INSERT INTO notes VALUES ('a', 1, 'ok')`);
    await db.query('UPDATE notes SET n = 2');
    await db.query('DELETE FROM notes');
    await db.query('DELETE FROM items WHERE id = 2');
    // A transaction replayed from an upstream: pgoutput sends an Origin message in it.
    await db.query('BEGIN');
    await db.query(`SELECT pg_replication_origin_session_setup('upstream')`);
    await db.query(`SELECT pg_replication_origin_xact_setup('0/ABCDEF', now())`);
    const [{ xid: originXid }] = (await db.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid')).rows;
    await db.query(`INSERT INTO items VALUES (4, 'from upstream', NULL)`);
    await db.query('COMMIT');
    await db.query('SELECT pg_replication_origin_session_reset()');
    await db.query('TRUNCATE items, notes RESTART IDENTITY CASCADE');
    await db.query('BEGIN');
    await db.query(`SELECT pg_logical_emit_message(true, 'pgferry', 'in a transaction')`);
    await db.query('COMMIT');
    const [{ lsn: emittedAt }] = (await db.query<{ lsn: string }>(`SELECT pg_logical_emit_message(false, 'pgferry', 'hello')::text AS lsn`)).rows;
    const madeUntil = BigInt(Date.now()) * 1000n;

    const stream = repl.query(new ReplicationStream(`START_REPLICATION SLOT s LOGICAL ${formatLsn(startLsn)} (proto_version '1', publication_names '"pub"', messages 'true')`));
    let ending = false;
    const received: Array<{ frame: XLogData; msg: PgOutputMessage }> = [];
    let keepalives = 0;
    let answered = 0;
    let written = startLsn;
    let flushed = startLsn;
    let clock: bigint | undefined = undefined; // undefined: the current time
    let failure: Error | undefined;
    stream.on('error', (err: Error) => (failure ??= err));
    const onFrame = () => {
      try {
        const frame = parseCopyBothFrame(stream.frameBuf, stream.frameStart, stream.frameEnd);
        if (frame.kind === 'keepalive') {
          keepalives++;
          if (frame.replyRequested && !ending) {
            stream.write(standbyStatusUpdate({ written, flushed, applied: flushed, nowMicros: clock }));
            answered++;
          }
          return;
        }
        if (walStartOf(frame) > written) written = walStartOf(frame);
        received.push({ frame, msg: decodePgOutput(frame.data, false, frame.at, frame.end) });
      } catch (err) {
        failure ??= err as Error;
      }
    };
    stream.on('readable', () => {
      while (stream.next()) onFrame();
    });

    const isLast = (m: PgOutputMessage) => m.tag === 'message' && !m.transactional;
    await waitFor('the final logical message', () => received.some((r) => isLast(r.msg)), () => failure);

    const names = new Map<number, string>();
    for (const { msg } of received) if (msg.tag === 'relation') names.set(msg.relationId, msg.name);
    expect(received.map(({ msg }) => summarize(msg, names))).toEqual([
      'begin',
      'relation public.items d id*,name,body',
      `insert items ["1","first",<${BIG.length} chars>]`,
      'commit',
      'begin',
      'update items new ["1","renamed",TOAST]',
      'commit',
      'begin',
      'update items key ["1",null,null] new ["2","renamed",TOAST]',
      'commit',
      'begin',
      `insert items ["3",${JSON.stringify(UTF8)},null]`,
      'commit',
      'begin',
      'type public.mood',
      'relation public.notes f note*,n*,mood*',
      'insert notes ["a","1","ok"]',
      'commit',
      'begin',
      'update notes old ["a","1","ok"] new ["a","2","ok"]',
      'commit',
      'begin',
      'delete notes old ["a","2","ok"]',
      'commit',
      'begin',
      'delete items key ["2",null,null]',
      'commit',
      'begin',
      'origin upstream 0/ABCDEF',
      'insert items ["4","from upstream",null]',
      'commit',
      // TRUNCATE invalidates the tables' relcache entries, so pgoutput sends their schema again.
      'begin',
      'relation public.items d id*,name,body',
      'type public.mood',
      'relation public.notes f note*,n*,mood*',
      'truncate items,notes cascade restart',
      'commit',
      'begin',
      'message tx pgferry "in a transaction"',
      'commit',
      'message non-tx pgferry "hello"',
    ]);

    const msgs = received.map((r) => r.msg);
    // Values arrive exactly: the 1.6 MB TOASTed text whole, UNCHANGED_TOAST as the symbol.
    expect(msgs[2]).toMatchObject({ tag: 'insert', newTuple: ['1', 'first', BIG] });
    expect(msgs[5]).toMatchObject({ tag: 'update', newTuple: ['1', 'renamed', UNCHANGED_TOAST] });
    expect(msgs[11]).toMatchObject({ tag: 'insert', newTuple: ['3', UTF8, null] });

    // Relation ids, type OIDs and typmods are the server's.
    const [oids] = await pg.query<{ items: number; notes: number; mood: number }>(`SELECT 'items'::regclass::oid::int AS items, 'notes'::regclass::oid::int AS notes, 'mood'::regtype::oid::int AS mood`);
    expect(msgs[1]).toEqual({
      tag: 'relation',
      relationId: oids.items,
      schema: 'public',
      name: 'items',
      replicaIdentity: 'd',
      columns: [
        { name: 'id', isKey: true, typeOid: 23, typeMod: -1 },
        { name: 'name', isKey: false, typeOid: 25, typeMod: -1 },
        { name: 'body', isKey: false, typeOid: 25, typeMod: -1 },
      ],
    });
    expect(msgs[14]).toEqual({ tag: 'type', typeOid: oids.mood, schema: 'public', name: 'mood' });
    expect(msgs[15]).toMatchObject({ relationId: oids.notes, columns: [{ typeOid: 25 }, { typeOid: 23 }, { typeOid: oids.mood }] });
    expect(msgs[35]).toMatchObject({ tag: 'truncate', relationIds: expect.arrayContaining([oids.items, oids.notes]) });
    expect(msgs[27]).toMatchObject({ tag: 'begin', xid: Number(originXid) });

    // Each transaction: Begin and Commit agree on the commit LSN and time (converted to the
    // Unix epoch, so it falls while the changes were made), and commits move forward.
    let previousEnd = startLsn;
    for (let i = 0; i < msgs.length; i++) {
      const begin = msgs[i];
      if (begin.tag !== 'begin') continue;
      const commit = msgs.slice(i).find((m): m is CommitMessage => m.tag === 'commit')!;
      expect(commit).toMatchObject({ flags: 0, commitLsn: begin.finalLsn, commitTimeMicros: begin.commitTimeMicros });
      expect(commit.commitLsn).toBeGreaterThan(previousEnd);
      expect(commit.endLsn).toBeGreaterThan(commit.commitLsn);
      expect(begin.commitTimeMicros).toBeGreaterThanOrEqual(madeFrom - 1_000_000n);
      expect(begin.commitTimeMicros).toBeLessThanOrEqual(madeUntil + 1_000_000n);
      previousEnd = commit.endLsn;
    }
    const lastCommit = msgs.filter((m): m is CommitMessage => m.tag === 'commit').at(-1)!;
    const hello = msgs.at(-1)!;
    expect(hello).toMatchObject({ tag: 'message', transactional: false, prefix: 'pgferry', content: Buffer.from('hello') });
    expect(hello.tag === 'message' && hello.lsn).toBeGreaterThan(lastCommit.endLsn);
    // The message's LSN is the one pg_logical_emit_message returned: the cutover stops exactly there.
    expect(hello.tag === 'message' && formatLsn(hello.lsn)).toBe(emittedAt);
    // XLogData positions: a commit's frame starts at the commit's end (the position to confirm);
    // Relation/Type frames carry 0 (as can a Begin), so a reader must take progress from Commit
    // messages, never from walStart alone.
    for (const { frame, msg } of received) {
      if (msg.tag === 'commit') expect(walStartOf(frame)).toBe(msg.endLsn);
      if (msg.tag === 'relation' || msg.tag === 'type') expect(walStartOf(frame)).toBe(0n);
      else if (msg.tag !== 'begin') expect(walStartOf(frame)).toBeGreaterThan(startLsn);
    }

    // "Apply" everything: confirm the last commit, with a recognisable client clock, then keep
    // answering the server's reply requests until one arrives (after wal_sender_timeout / 2).
    flushed = lastCommit.endLsn;
    clock = CLIENT_TIME;
    stream.write(standbyStatusUpdate({ written, flushed, applied: flushed, nowMicros: clock }));
    const answeredBefore = answered;
    await waitFor('a keepalive requesting a reply', () => answered > answeredBefore, () => failure, 20_000);
    expect(keepalives).toBeGreaterThanOrEqual(answered);

    const slotState = `
      SELECT r.write_lsn::text AS write, r.flush_lsn::text AS flush, r.replay_lsn::text AS replay,
             (extract(epoch FROM r.reply_time) * 1000000)::bigint::text AS reply_time,
             s.confirmed_flush_lsn::text AS confirmed
        FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid
       WHERE s.slot_name = 's'`;
    let state: { write: string; flush: string; replay: string; reply_time: string; confirmed: string } | undefined;
    await waitFor('the server to record the status update', async () => {
      [state] = await pg.query(slotState);
      return state?.confirmed === formatLsn(flushed);
    }, () => failure);
    expect(state).toEqual({ write: formatLsn(written), flush: formatLsn(flushed), replay: formatLsn(flushed), reply_time: String(CLIENT_TIME), confirmed: formatLsn(flushed) });

    // End cleanly: CopyDone both ways, then the connection takes replication commands again.
    ending = true;
    const ended = once(stream, 'end');
    stream.end(); // the 'readable' listener reads on up to the server's CopyDone
    await Promise.race([ended, new Promise((_, reject) => setTimeout(() => reject(new Error('the stream did not end')), 15_000))]);
    expect(failure).toBeUndefined();
    await repl.query('DROP_REPLICATION_SLOT s');
    expect(await pg.query(`SELECT slot_name FROM pg_replication_slots`)).toEqual([]);
    await repl.end();
    repl = undefined;
  });
});
