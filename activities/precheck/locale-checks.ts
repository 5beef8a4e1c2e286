/**
 * Encoding and collation compatibility: the database encoding (values must survive unchanged),
 * the database locale (how text sorts and compares), and every collation that source columns,
 * indexes and domains use, which must exist on the target or be creatable there.
 *
 * "Creatable" is tried, not guessed: CREATE COLLATION in pg_temp inside a transaction that is
 * rolled back, which asks the target's operating system (libc) or ICU library for the locale
 * exactly as pre-data and CREATE DATABASE will. Nothing is left behind.
 */
import type { Client } from 'pg';
import { displayName } from '../../common/plan';
import type { CheckItem } from '../../common/precheck';
import { describeLocale, serverVersionNum, type DatabaseLocale, type LocaleProvider } from '../database/database-locale';
import { quoteLiteral } from '../db';
import { errorMessage } from '../errors';
import { fail, listSome, pass, warn } from './items';

/** A locale as a collation sees it (pg_collation's columns, or a database's). */
interface CollationLocale {
  provider: LocaleProvider;
  collate: string | null;
  ctype: string | null;
  locale: string | null;
}

/** `untried`: the target user may not create temporary objects, so the locale could not be tried. */
type Probe = { ok: true } | { ok: false; message: string; untried: boolean };

const INSUFFICIENT_PRIVILEGE = '42501';

/** `targetLocale` is undefined when the target database is created by the migration. */
export function encodingItem(source: DatabaseLocale, targetLocale: DatabaseLocale | undefined): CheckItem {
  if (!targetLocale) return pass('encoding', `The target database is created with the source's encoding ${source.encoding}.`);
  return source.encoding === targetLocale.encoding
    ? pass('encoding', `Source and target databases use encoding ${source.encoding}.`)
    : fail('encoding', `Source encoding ${source.encoding} differs from target encoding ${targetLocale.encoding}.`, `Create the target database with ENCODING '${source.encoding}' (or let pgferry create it) so that every value survives unchanged.`);
}

export async function checkDatabaseLocale(source: DatabaseLocale, targetLocale: DatabaseLocale | undefined, tgt: Client): Promise<CheckItem> {
  const id = 'database-locale';
  if (!targetLocale) {
    const probe = await probeDatabaseLocale(tgt, source);
    if (probe.ok) return pass(id, `The target database is created with the source's locale ${describeLocale(source)}.`);
    if (probe.untried) return warn(id, `The target database is created with the source's locale ${describeLocale(source)}, which could not be tried on the target server: ${probe.message}.`, 'Make sure the target server has that locale (or grant TEMPORARY on its maintenance database to the target user so the precheck can try it).');
    return fail(id, `The target server cannot create a database with the source's locale ${describeLocale(source)}: ${probe.message}.`, 'Install that locale on the target server (for libc, the operating system locale), or create the target database yourself.');
  }
  const same = source.provider === targetLocale.provider && source.collate === targetLocale.collate && source.ctype === targetLocale.ctype && source.locale === targetLocale.locale;
  return same
    ? pass(id, `Source and target databases use locale ${describeLocale(source)}.`)
    : warn(id, `The databases' locales differ: source ${describeLocale(source)}, target ${describeLocale(targetLocale)}.`, 'Text sorts and compares differently on the target (ORDER BY, text indexes, upper/lower); create the target database with the source locale if that matters.');
}

async function probeDatabaseLocale(tgt: Client, l: DatabaseLocale): Promise<Probe> {
  const libc = await probeCollation(tgt, { provider: 'c', collate: l.collate, ctype: l.ctype, locale: null });
  if (!libc.ok || l.provider === 'c') return libc;
  return probeCollation(tgt, l);
}

function collationClause(c: CollationLocale): string {
  if (c.provider === 'i') return `provider = icu, locale = ${quoteLiteral(c.locale ?? '')}`;
  if (c.provider === 'b') return `provider = builtin, locale = ${quoteLiteral(c.locale ?? '')}`;
  return `provider = libc, lc_collate = ${quoteLiteral(c.collate ?? '')}, lc_ctype = ${quoteLiteral(c.ctype ?? '')}`;
}

async function probeCollation(tgt: Client, c: CollationLocale): Promise<Probe> {
  await tgt.query('BEGIN');
  try {
    await tgt.query(`CREATE COLLATION pg_temp.pgferry_probe (${collationClause(c)})`);
    return { ok: true };
  } catch (err) {
    return { ok: false, message: errorMessage(err), untried: (err as { code?: string }).code === INSUFFICIENT_PRIVILEGE };
  } finally {
    await tgt.query('ROLLBACK');
  }
}

function describeCollation(c: CollationLocale): string {
  if (c.provider === 'i') return `ICU ${c.locale}`;
  if (c.provider === 'b') return `builtin ${c.locale}`;
  return c.collate === c.ctype ? `libc ${c.collate}` : `libc ${c.collate}/${c.ctype}`;
}

interface Collation extends CollationLocale {
  schema: string;
  name: string;
}

interface UsedCollation extends Collation {
  used_by: string[];
}

function localeColumn(version: number): string {
  if (version >= 170000) return 'co.colllocale';
  if (version >= 150000) return 'co.colliculocale';
  return "CASE WHEN co.collprovider = 'i' THEN co.collcollate END"; // ICU locale lived in collcollate before 15
}

const COLLATION_COLUMNS = (version: number) =>
  `cn.nspname AS schema, co.collname AS name, co.collprovider::text AS provider, co.collcollate AS collate, co.collctype AS ctype, ${localeColumn(version)} AS locale`;

/** Collations (other than the database default) of columns, index keys and domains in user schemas. */
async function usedCollations(src: Client): Promise<UsedCollation[]> {
  const { rows } = await src.query<UsedCollation>(
    `WITH uses AS (
       SELECT a.attcollation AS coll, n.nspname AS ns, pg_catalog.format('%I.%I.%I', n.nspname, c.relname, a.attname) AS used_by
         FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
       UNION ALL
       SELECT x.coll, n.nspname, pg_catalog.format('index %I.%I', n.nspname, c.relname)
         FROM pg_catalog.pg_index i CROSS JOIN LATERAL unnest(i.indcollation::oid[]) AS x(coll)
         JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       UNION ALL
       SELECT t.typcollation, n.nspname, pg_catalog.format('domain %I.%I', n.nspname, t.typname)
         FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
        WHERE t.typtype = 'd'
     )
     SELECT ${COLLATION_COLUMNS(await serverVersionNum(src))}, array_agg(DISTINCT u.used_by ORDER BY u.used_by) AS used_by
       FROM uses u JOIN pg_catalog.pg_collation co ON co.oid = u.coll JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
      WHERE co.collprovider <> 'd' AND u.ns !~ '^pg_' AND u.ns NOT IN ('information_schema', '_pgferry')
      GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2`,
  );
  return rows;
}

/**
 * Target collations of those names usable in a database of the given encoding. A database
 * still to be created gets template0's collations: those initdb made (below FirstNormalObjectId),
 * not those created later in the maintenance database the precheck is connected to.
 */
async function targetCollations(tgt: Client, wanted: Collation[], encoding: string, targetExists: boolean): Promise<Map<string, Collation>> {
  const { rows } = await tgt.query<Collation>(
    `SELECT ${COLLATION_COLUMNS(await serverVersionNum(tgt))}
       FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
       JOIN unnest($1::text[], $2::text[]) AS w(schema, name) ON w.schema = cn.nspname AND w.name = co.collname
      WHERE co.collencoding IN (-1, pg_catalog.pg_char_to_encoding($3)) AND ($4 OR co.oid < 16384)`,
    [wanted.map((c) => c.schema), wanted.map((c) => c.name), encoding, targetExists],
  );
  return new Map(rows.map((c) => [displayName(c), c]));
}

const sameLocale = (a: CollationLocale, b: CollationLocale) => a.provider === b.provider && a.collate === b.collate && a.ctype === b.ctype && a.locale === b.locale;

/**
 * pg_dump recreates collations of user schemas (pre-data), so those must be creatable on the
 * target; collations of pg_catalog come with the target server and must exist there already.
 */
export async function checkCollations(src: Client, tgt: Client, opts: { withSchema: boolean; targetExists: boolean; encoding: string }): Promise<CheckItem> {
  const used = await usedCollations(src);
  if (!used.length) return pass('collations', 'Columns and indexes use only the database default collation.');
  const onTarget = await targetCollations(tgt, used, opts.encoding, opts.targetExists);
  const missing: string[] = [];
  const differing: string[] = [];
  const created: string[] = [];
  const untried: string[] = [];
  for (const c of used) {
    const name = displayName(c);
    const what = `${name} (${describeCollation(c)}, used by ${listSome(c.used_by, 3)})`;
    const there = onTarget.get(name);
    if (there) {
      if (!sameLocale(c, there)) differing.push(`${what} is ${describeCollation(there)} on the target`);
    } else if (c.schema === 'pg_catalog') {
      missing.push(`${what} does not exist on the target`);
    } else if (opts.withSchema) {
      const probe = await probeCollation(tgt, c);
      if (probe.ok) created.push(name);
      else if (probe.untried) untried.push(`${what} could not be tried on the target: ${probe.message}`);
      else missing.push(`${what} cannot be created on the target: ${probe.message}`);
    }
  }
  if (missing.length) {
    return fail('collations', `${missing.length} collation(s) used on the source are not available on the target: ${listSome(missing, 3)}.`, 'Install the locale on the target server (libc: the operating system locale, then SELECT pg_import_system_collations(\'pg_catalog\'); ICU: a build with ICU), or change those columns to a collation the target has.');
  }
  if (differing.length) {
    return warn('collations', `${differing.length} collation(s) have another locale on the target: ${listSome(differing, 3)}.`, 'Text in those columns sorts and compares differently on the target; align the collations if that matters.');
  }
  if (untried.length) {
    return warn('collations', `${untried.length} collation(s) that pre-data creates could not be tried: ${listSome(untried, 3)}.`, 'Make sure the target server has those locales, or grant TEMPORARY on the target database to the target user so the precheck can try them.');
  }
  const note = created.length ? ` (${listSome(created)} created by pre-data)` : '';
  return pass('collations', `The ${used.length} collation(s) used by columns and indexes are available on the target${note}: ${listSome(used.map(displayName))}.`);
}
