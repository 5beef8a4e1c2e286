/**
 * Checksums hash each side's text of a row (checksum.ts). Every pgferry session prints values
 * exactly and the same way (db.ts, EXACT_TEXT), all but one setting: the time zone, in
 * which timestamptz values print. It is the database's own on each side (a row filter reads
 * its literals in it, in the copy as in the comparison), so a comparing session on the target
 * takes the source's: a source in Europe/Berlin and a target in UTC hold the same instants,
 * and must print them alike.
 */
import type { Client } from 'pg';
import { quoteLiteral } from '../db';

/** The time zone a source session prints in: the database's (or role's) setting. */
export async function sourceTimeZone(src: Pick<Client, 'query'>): Promise<string> {
  const { rows } = await src.query<{ zone: string }>(`SELECT pg_catalog.current_setting('TimeZone') AS zone`);
  return rows[0].zone;
}

/** Makes a target session print timestamptz values in `zone`, as the source does. */
export async function printInZone(tgt: Pick<Client, 'query'>, zone: string): Promise<void> {
  await tgt.query(`SET TimeZone = ${quoteLiteral(zone)}`);
}

/** Both at once: the target session `tgt` prints as the source session `src` does. */
export async function printLikeSource(src: Pick<Client, 'query'>, tgt: Pick<Client, 'query'>): Promise<void> {
  await printInZone(tgt, await sourceTimeZone(src));
}
