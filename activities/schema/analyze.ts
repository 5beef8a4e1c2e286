/**
 * Statistics for the planner from the first query. Every copied table is analyzed by its copy,
 * in the same transaction (activities/copy/copy-unit.ts); what is left are partitioned parents,
 * whose statistics come from sampling their partitions.
 */
import type { Client } from 'pg';
import { Context } from '@temporalio/activity';
import { resolveConnection } from '../credentials';
import { closeInBackground, openClient, qualified } from '../db';
import type { ActivityDeps, Endpoints } from '../deps';
import { guarded } from '../errors';

export function makeAnalyzeTarget(deps: ActivityDeps) {
  return async function analyzeTarget(input: Pick<Endpoints, 'target' | 'retry'> & { jobs: number }): Promise<{ analyzed: number }> {
    const target = resolveConnection(input.target, deps.env);
    const ctx = Context.current();
    let client: Client | undefined;
    const beat = setInterval(() => ctx.heartbeat('analyze'), 1_000);
    try {
      return await guarded({ doing: `analyze target ${target.label}`, secrets: target.secrets, retry: input.retry }, async () => {
        client = await openClient(target, 'analyze');
        const { rows } = await client.query<{ schema: string; name: string }>(
          `SELECT n.nspname AS schema, c.relname AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'p' AND n.nspname !~ '^pg_' AND n.nspname NOT IN ('information_schema', '_pgferry')`,
        );
        for (const parent of rows) await client.query(`ANALYZE ${qualified(parent)}`);
        return { analyzed: rows.length };
      });
    } finally {
      clearInterval(beat);
      closeInBackground(client);
    }
  };
}
