/**
 * Precheck item for incremental migrations: whether DDL on the source can be captured and
 * replicated (incremental.ddl). The capture is an event trigger, which only a superuser may
 * create (PostgreSQL 15, and later versions too); without it DDL stops the stream.
 */
import type { Client } from 'pg';
import type { CheckItem } from '../../common/plan';
import { fail, note, pass } from './items';

export async function ddlCaptureCheck(src: Client, wanted: 'replicate' | 'fail' | undefined): Promise<{ item: CheckItem; capture: boolean }> {
  const notReplicated = 'a table changed by DDL stops the stream with a message saying what changed (start the migration again after it)';
  if (wanted === 'fail') {
    return {
      capture: false,
      item: note('ddl-during-migration', 'DDL on the source during the migration is not replicated (incremental.ddl: fail).', `Freeze schema changes on the source until cutover: ${notReplicated}.`),
    };
  }
  const { rows } = await src.query<{ superuser: boolean; who: string }>('SELECT rolsuper AS superuser, rolname AS who FROM pg_catalog.pg_roles WHERE rolname = current_user');
  const { superuser, who } = rows[0];
  if (superuser) {
    return {
      capture: true,
      item: pass(
        'ddl-capture',
        'DDL on the source is replicated: an event trigger writes each DDL command into the change stream, which applies it to the target at its place among the row changes.',
        'Nothing to do. The event trigger and its functions are dropped at cutover, cancel or failure.',
      ),
    };
  }
  const advice = `An event trigger can only be created by a superuser on PostgreSQL 15: run the migration with a superuser on the source (or ALTER ROLE ${who} SUPERUSER for its duration)`;
  if (wanted === 'replicate') {
    return { capture: false, item: fail('ddl-capture', `The source user ${who} is not a superuser, so DDL cannot be captured (incremental.ddl: replicate).`, `${advice}, or set incremental.ddl: fail and freeze schema changes until cutover.`) };
  }
  return {
    capture: false,
    item: note('ddl-during-migration', `DDL on the source during the migration is not replicated: the source user ${who} is not a superuser, so it cannot be captured.`, `${advice}; otherwise freeze schema changes on the source until cutover: ${notReplicated}.`),
  };
}
