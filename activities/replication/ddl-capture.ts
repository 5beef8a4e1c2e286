/**
 * DDL capture on the source (incremental.ddl: replicate): two event triggers whose functions
 * write each DDL command as a transactional logical message (pg_logical_emit_message), which
 * pgoutput delivers with `messages 'true'` inside the transaction, in order with its row
 * changes and only if it commits. The stream applies it at that very place (ddl-apply.ts).
 *
 * Installed before the slot (with the publication), so DDL after the copy's snapshot is in the
 * stream; dropped with the slot and publication at cutover, cancel and failure (nothing is left
 * behind). The functions live in a schema of their own, which pg_dump leaves out (and the event
 * triggers are left out of post-data), so the target never gets them.
 *
 * The functions run as their owner (SECURITY DEFINER, a superuser: event triggers need one),
 * so a DDL by any user can emit the message and add a new table to the publication. They never
 * make the user's DDL fail: an error inside becomes a message that stops the stream instead.
 */
import type { Client } from 'pg';
import type { DdlCaptureNames } from '../../common/ddl';
import { quoteIdent, quoteLiteral } from '../db';

/** Commands on replication objects are pgferry's own business (and not replicated). */
const IGNORED_TAGS = ['CREATE PUBLICATION', 'ALTER PUBLICATION', 'DROP PUBLICATION', 'CREATE SUBSCRIPTION', 'ALTER SUBSCRIPTION', 'DROP SUBSCRIPTION'];

/** The relation a catalog object belongs to (an index's table, a column's table...), as JSON. */
const OWNING_TABLE_SQL = `
  (SELECT jsonb_build_object('schema', n.nspname, 'name', c.relname)
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = CASE
      WHEN r.classid = 'pg_class'::regclass THEN coalesce((SELECT i.indrelid FROM pg_index i WHERE i.indexrelid = r.objid), r.objid)
      WHEN r.classid = 'pg_constraint'::regclass THEN (SELECT k.conrelid FROM pg_constraint k WHERE k.oid = r.objid)
      WHEN r.classid = 'pg_trigger'::regclass THEN (SELECT t.tgrelid FROM pg_trigger t WHERE t.oid = r.objid)
      WHEN r.classid = 'pg_attrdef'::regclass THEN (SELECT d.adrelid FROM pg_attrdef d WHERE d.oid = r.objid)
    END AND c.relkind IN ('r', 'p', 'f'))`;

export function captureSql(names: DdlCaptureNames, publication: string): string {
  const schema = quoteIdent(names.schema);
  const prefix = quoteLiteral(names.messagePrefix);
  const pub = quoteLiteral(publication);
  return `
CREATE SCHEMA IF NOT EXISTS ${schema};
REVOKE CREATE ON SCHEMA ${schema} FROM PUBLIC;

-- Runs as the user (it needs no privilege), so it sees the user's search_path, which the
-- SECURITY DEFINER functions below (with a search_path of their own) could not.
CREATE OR REPLACE FUNCTION ${schema}.on_ddl_start() RETURNS event_trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  IF tg_tag IN (${IGNORED_TAGS.map(quoteLiteral).join(', ')}) THEN RETURN; END IF;
  -- For the session, not the transaction: CREATE INDEX CONCURRENTLY ends in another transaction.
  PERFORM pg_catalog.set_config('pgferry.ddl_search_path', pg_catalog.current_setting('search_path'), false);
  -- A temporary table is the session's own business: it never waits for the copy.
  IF pg_catalog.current_query() ~* '^\\s*create\\s+((global|local)\\s+)?temp(orary)?\\s' THEN RETURN; END IF;
  -- The copy's snapshot holder keeps this lock while the copy runs: wait here, before any table is locked.
  PERFORM pg_catalog.pg_advisory_xact_lock_shared(${names.gateLock[0]}, ${names.gateLock[1]});
END
$fn$;

CREATE OR REPLACE FUNCTION ${schema}.on_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE d jsonb;
BEGIN
  SELECT coalesce(jsonb_agg(jsonb_build_object('type', o.object_type, 'schema', o.schema_name, 'identity', o.object_identity, 'name', o.object_name)), '[]')
    INTO d FROM pg_event_trigger_dropped_objects() o WHERE NOT o.is_temporary;
  PERFORM set_config('pgferry.ddl_dropped', (coalesce(nullif(current_setting('pgferry.ddl_dropped', true), ''), '[]')::jsonb || d)::text, true);
EXCEPTION WHEN OTHERS THEN
  NULL; -- the ddl_command_end message still names the statement
END
$fn$;

CREATE OR REPLACE FUNCTION ${schema}.on_ddl_end() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  r record;
  objects jsonb := '[]';
  published jsonb := '[]';
  dropped jsonb;
  content jsonb;
  counter text := 'pgferry.ddl_' || md5(tg_tag || current_query());
  ref text := md5(current_query());
  -- The query text goes into the transaction's first message only (transaction-local setting).
  sent boolean := coalesce(current_setting('pgferry.ddl_q' || ref, true), '') = '1';
  n int;
BEGIN
  IF tg_tag IN (${IGNORED_TAGS.map(quoteLiteral).join(', ')}) THEN RETURN; END IF;
  BEGIN
    dropped := coalesce(nullif(current_setting('pgferry.ddl_dropped', true), ''), '[]')::jsonb;
    PERFORM set_config('pgferry.ddl_dropped', '', true);
    FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
      objects := objects || jsonb_build_array(jsonb_build_object('type', r.object_type, 'schema', r.schema_name, 'identity', r.object_identity, 'table', ${OWNING_TABLE_SQL.trim()},
        'kind', (SELECT c.relkind FROM pg_class c WHERE r.classid = 'pg_class'::regclass AND c.oid = r.objid)));
      -- A new (or newly keyed) permanent table joins the publication, so its rows are streamed
      -- from here on; one without a replica identity would make the source refuse its updates.
      IF r.classid = 'pg_class'::regclass AND r.object_type = 'table' AND NOT r.in_extension AND EXISTS (
           SELECT 1 FROM pg_class c WHERE c.oid = r.objid AND c.relkind = 'r' AND c.relpersistence = 'p'
              AND (c.relreplident = 'f'
                   OR (c.relreplident = 'd' AND EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary))
                   OR (c.relreplident = 'i' AND EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident))))
         AND NOT EXISTS (SELECT 1 FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid WHERE p.pubname = ${pub} AND pr.prrelid = r.objid) THEN
        EXECUTE format('ALTER PUBLICATION %I ADD TABLE %s', ${pub}, r.objid::regclass);
        published := published || to_jsonb(r.object_identity);
      END IF;
    END LOOP;
    n := coalesce(nullif(current_setting(counter, true), '')::int, 0) + 1;
    PERFORM set_config(counter, n::text, true);
    content := jsonb_build_object(
      'tag', tg_tag, 'queryRef', ref, 'ordinal', n, 'searchPath', coalesce(current_setting('pgferry.ddl_search_path', true), ''),
      'objects', objects, 'dropped', dropped, 'published', published)
      || CASE WHEN sent THEN '{}'::jsonb ELSE jsonb_build_object('query', current_query()) END;
    PERFORM set_config('pgferry.ddl_q' || ref, '1', true);
  EXCEPTION WHEN OTHERS THEN
    content := jsonb_build_object(
      'tag', tg_tag, 'query', current_query(), 'ordinal', 0, 'searchPath', '',
      'objects', '[]'::jsonb, 'dropped', '[]'::jsonb, 'published', '[]'::jsonb, 'error', SQLERRM);
  END;
  -- Outside the block above: a message written in a subtransaction reaches the stream after
  -- the row changes that follow it in the transaction, not at its place.
  PERFORM pg_logical_emit_message(true, ${prefix}, content::text);
END
$fn$;

DO $do$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = ${quoteLiteral(names.dropTrigger)}) THEN
    CREATE EVENT TRIGGER ${quoteIdent(names.dropTrigger)} ON sql_drop EXECUTE FUNCTION ${schema}.on_sql_drop();
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = ${quoteLiteral(names.startTrigger)}) THEN
    CREATE EVENT TRIGGER ${quoteIdent(names.startTrigger)} ON ddl_command_start EXECUTE FUNCTION ${schema}.on_ddl_start();
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = ${quoteLiteral(names.endTrigger)}) THEN
    CREATE EVENT TRIGGER ${quoteIdent(names.endTrigger)} ON ddl_command_end EXECUTE FUNCTION ${schema}.on_ddl_end();
  END IF;
END
$do$;`;
}

/** Installs the capture (idempotent: a retry finds what an earlier attempt made). */
export async function installDdlCapture(client: Client, names: DdlCaptureNames, publication: string): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(captureSql(names, publication));
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** Drops the event triggers and the capture schema, when they exist. Returns what it dropped. */
export async function dropDdlCapture(client: Client, names: DdlCaptureNames): Promise<string[]> {
  const dropped: string[] = [];
  const { rows } = await client.query<{ evtname: string }>('SELECT evtname FROM pg_catalog.pg_event_trigger WHERE evtname = ANY($1) ORDER BY 1', [[names.startTrigger, names.endTrigger, names.dropTrigger]]);
  for (const { evtname } of rows) {
    await client.query(`DROP EVENT TRIGGER IF EXISTS ${quoteIdent(evtname)}`);
    dropped.push(`event trigger ${evtname}`);
  }
  const schema = await client.query('SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1', [names.schema]);
  if (schema.rowCount) {
    await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(names.schema)} CASCADE`);
    dropped.push(`schema ${names.schema}`);
  }
  return dropped;
}
