/**
 * SQL for an index that proves what settings built it: a function that raises unless the
 * session has `settings`, then those settings for this session, so that an index on the
 * function (created after this SQL) is built on the source; a migration passes only if its
 * own build on the target runs with the same settings.
 */
export function buildProbeSql(fn: string, settings: Record<string, string>): string {
  const wrong = Object.entries(settings).map(([name, value]) => `current_setting('${name}') <> '${value}'`);
  const shown = Object.keys(settings).map((name) => `${name} %`);
  const args = Object.keys(settings).map((name) => `current_setting('${name}')`);
  return `CREATE FUNCTION ${fn}(v bigint) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$
          BEGIN
            IF ${wrong.join(' OR ')} THEN
              RAISE EXCEPTION 'built with ${shown.join(', ')}', ${args.join(', ')};
            END IF;
            RETURN v;
          END $$;
          ${Object.entries(settings).map(([name, value]) => `SET ${name} = '${value}';`).join('\n')}`;
}
