/** Checks a migrated target against the source: rows per table, and index / constraint / trigger counts. */
import type { PgCluster } from '../launch/postgres';

const COUNTS_SQL = `
  SELECT (SELECT count(*) FROM pg_indexes WHERE schemaname NOT IN ('pg_catalog', 'information_schema')) AS indexes,
         (SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')) AS constraints,
         (SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal) AS triggers,
         (SELECT count(*) FROM pg_views WHERE schemaname NOT IN ('pg_catalog', 'information_schema')) AS views`;

const TABLES_SQL = `
  SELECT format('%I.%I', n.nspname, c.relname) AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`;

async function rowCounts(cluster: PgCluster, db: string): Promise<Map<string, number>> {
  const tables = await cluster.query<{ t: string }>(TABLES_SQL, db);
  const counts = new Map<string, number>();
  // One query for all tables: tiny-table databases have thousands of them.
  for (let i = 0; i < tables.length; i += 500) {
    const batch = tables.slice(i, i + 500);
    const sql = batch.map(({ t }) => `SELECT ${quoteLiteral(t)} AS t, count(*)::bigint AS n FROM ONLY ${t}`).join(' UNION ALL ');
    for (const row of await cluster.query<{ t: string; n: string }>(sql, db)) counts.set(row.t, Number(row.n));
  }
  return counts;
}

function quoteLiteral(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** Empty when the target matches; otherwise one line per difference. */
export async function verifyTarget(source: PgCluster, target: PgCluster, db: string): Promise<string[]> {
  const problems: string[] = [];
  const [s, t] = await Promise.all([rowCounts(source, db), rowCounts(target, db)]);
  for (const [table, n] of s) {
    if (!t.has(table)) problems.push(`${table}: missing on target`);
    else if (t.get(table) !== n) problems.push(`${table}: ${t.get(table)} rows on target, ${n} on source`);
  }
  const [sc] = await source.query(COUNTS_SQL, db);
  const [tc] = await target.query(COUNTS_SQL, db);
  for (const key of Object.keys(sc)) if (String(sc[key]) !== String(tc[key])) problems.push(`${key}: ${tc[key]} on target, ${sc[key]} on source`);
  return problems;
}
