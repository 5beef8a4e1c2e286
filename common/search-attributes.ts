/**
 * The custom search attributes of a migration, so the Temporal Web UI's list (and
 * `temporal workflow list --query`) can filter and show migrations by phase, databases, lag and
 * progress: `PgferryPhase = "streaming" AND PgferryLagSeconds < 5`.
 *
 * They must be registered on the namespace first (the dev server started by launch/temporal.ts
 * registers them; on a cluster: `temporal operator search-attribute create`, see the README).
 * A workflow upserts them only when its input says they are registered (the client checks at
 * start), since upserting an unknown one fails every workflow task. Search attributes are
 * stored unencrypted: only names of hosts and databases, never credentials.
 */
import { defineSearchAttributeKey, SearchAttributeType, type SearchAttributePair } from '@temporalio/common';

export const PHASE_ATTRIBUTE = defineSearchAttributeKey('PgferryPhase', SearchAttributeType.KEYWORD);
export const SOURCE_ATTRIBUTE = defineSearchAttributeKey('PgferrySource', SearchAttributeType.KEYWORD);
export const TARGET_ATTRIBUTE = defineSearchAttributeKey('PgferryTarget', SearchAttributeType.KEYWORD);
/** Seconds the change stream is behind the source (as last reported to the migration). */
export const LAG_SECONDS_ATTRIBUTE = defineSearchAttributeKey('PgferryLagSeconds', SearchAttributeType.DOUBLE);
/** The copy's progress by bytes, 0–100. */
export const PERCENT_ATTRIBUTE = defineSearchAttributeKey('PgferryPercent', SearchAttributeType.DOUBLE);

export const PGFERRY_SEARCH_ATTRIBUTES = [PHASE_ATTRIBUTE, SOURCE_ATTRIBUTE, TARGET_ATTRIBUTE, LAG_SECONDS_ATTRIBUTE, PERCENT_ATTRIBUTE];

/** The type names the `temporal` CLI takes (`--search-attribute Name=Keyword`, `--type Double`). */
export function cliTypeName(type: SearchAttributeType): string {
  return type.charAt(0) + type.slice(1).toLowerCase();
}

/** How a database shows in the list: `host:port/database` (no user). */
export function databaseAttribute(ref: { host: string; port: number; database: string }): string {
  return `${ref.host}:${ref.port}/${ref.database}`;
}

/** The attributes a migration starts with (set by whoever starts it: no workflow command). */
export function startingAttributes(spec: { source: { host: string; port: number; database: string }; target: { host: string; port: number; database: string }; startAt?: string }): SearchAttributePair[] {
  return [
    { key: PHASE_ATTRIBUTE, value: spec.startAt && Date.parse(spec.startAt) > Date.now() ? 'scheduled' : 'precheck' },
    { key: SOURCE_ATTRIBUTE, value: databaseAttribute(spec.source) },
    { key: TARGET_ATTRIBUTE, value: databaseAttribute(spec.target) },
    { key: PERCENT_ATTRIBUTE, value: 0 },
  ];
}
