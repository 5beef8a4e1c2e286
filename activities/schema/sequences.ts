/**
 * Sets every target sequence to the source's value. Sequence reads are not transactional, so
 * the value read now is at or above the one the copy snapshot saw: new rows on the target
 * can never collide with copied ones.
 */
import type { Client } from 'pg';
import { closeInBackground, openClient, WRITES_ON_READ_ONLY } from '../db';
import { resolveBoth, type ActivityDeps, type Endpoints } from '../deps';
import { guarded } from '../errors';
import { settleAll } from '../settle-all';

interface SequenceValues {
  names: string[];
  values: string[];
  called: boolean[];
}

/**
 * The sequences' values now (not under any snapshot: sequences are not transactional). Read
 * from the batch's oids, not through the pg_sequences view: filtered by name, the view read
 * (and locked until the statement ended) every sequence of the database for each batch.
 */
async function readValues(src: Client, oids: number[]): Promise<SequenceValues> {
  const { rows } = await src.query<{ name: string; value: string; called: boolean }>(
    `SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS name,
            coalesce(v.last, s.seqstart)::text AS value, v.last IS NOT NULL AS called
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_catalog.pg_sequence s ON s.seqrelid = c.oid,
       LATERAL (SELECT CASE WHEN pg_catalog.has_sequence_privilege(c.oid, 'SELECT,USAGE') THEN pg_catalog.pg_sequence_last_value(c.oid) END AS last) v
      WHERE c.oid = ANY($1::oid[])`,
    [oids],
  );
  return { names: rows.map((r) => r.name), values: rows.map((r) => r.value), called: rows.map((r) => r.called) };
}

/** Sets the target's sequences of these names; those that were not migrated are skipped. Returns how many were set. */
async function setValues(tgt: Client, s: SequenceValues): Promise<number> {
  const set = await tgt.query(
    `SELECT pg_catalog.setval(pg_catalog.to_regclass(s.name), s.value, s.called)
       FROM unnest($1::text[], $2::bigint[], $3::boolean[]) AS s(name, value, called)
      WHERE pg_catalog.to_regclass(s.name) IS NOT NULL`,
    [s.names, s.values, s.called],
  );
  return set.rowCount ?? 0;
}

/** Sequences read, and set, per statement. */
const SEQUENCES_PER_STATEMENT = 500;

export function makeCopySequences(deps: ActivityDeps) {
  return async function copySequences(input: Endpoints): Promise<{ sequences: number }> {
    const { source, target, secrets } = resolveBoth(deps, input);
    let src: Client | undefined;
    let tgt: Client | undefined;
    try {
      return await guarded({ doing: `copy sequence values from ${source.label} to ${target.label}`, secrets, retry: input.retry }, async () => {
        // a rollback sets the locked source's sequences (WRITES_ON_READ_ONLY)
        const [from, into] = await settleAll([
          (async () => (src = await openClient(source, 'sequences')))(),
          (async () => (tgt = await openClient(target, 'sequences', WRITES_ON_READ_ONLY)))(),
        ] as const);
        // Reading or setting a sequence locks it until the statement's transaction ends: a few
        // hundred per statement, so thousands of them fit in a default lock table.
        const { rows: names } = await from.query<{ oid: number }>(
          `SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'S' AND n.nspname !~ '^pg_' AND n.nspname NOT IN ('information_schema', '_pgferry') ORDER BY c.oid`,
        );
        // The target sets one batch while the source reads the next.
        let setting = Promise.resolve(0);
        for (let i = 0; i < names.length; i += SEQUENCES_PER_STATEMENT) {
          const values = await readValues(from, names.slice(i, i + SEQUENCES_PER_STATEMENT).map((r) => r.oid));
          setting = setting.then(async (n) => n + (await setValues(into, values)));
          setting.catch(() => undefined); // awaited below, after the reads
        }
        const sequences = await setting;
        return { sequences };
      });
    } finally {
      closeInBackground(src);
      closeInBackground(tgt);
    }
  };
}
