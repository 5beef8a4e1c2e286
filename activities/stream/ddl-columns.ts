/**
 * Replicated DDL on a table whose columns the spec renames or leaves out (objects.tables.columns,
 * excludeColumns, column patterns in objects.exclude). The spec's rules are by column name, so
 * they say what to do with a column that exists, one that DDL adds and one it renames:
 *   - a statement only about left-out columns is skipped (the target never had them);
 *   - a renamed column is named by its target name in the statement run on the target;
 *   - a statement that mixes both, or renames a column into or out of the migration (its
 *     values would appear or vanish on one side only), stops the stream with a message.
 * Pure: unit-tested in test/unit/ddl-columns.test.ts.
 */
import { identName, isKeyword, tokenize, untokenize, type Token } from './sql-tokens';

/** The spec's verdict on a column of the table, by name. */
export type ColumnFate = (column: string) => { kept: boolean; target: string };

export type ColumnPlan = { action: 'apply'; sql: string } | { action: 'skip'; reason: string } | { action: 'refuse'; reason: string };

interface Sig {
  t: Token;
  /** Index into the full token list. */
  i: number;
}

/** What one ALTER TABLE subcommand does to columns. */
type AlterAction =
  | { kind: 'column'; name: Sig; rest: Sig[] } // ADD/DROP/ALTER COLUMN name ..., and what follows it
  | { kind: 'rename'; from: Sig; to: Sig }
  | { kind: 'other'; tokens: Sig[] };

/** Words after which a name is not a column's (an index's, a constraint's, a type's...). */
const NOT_A_COLUMN_AFTER = new Set(['CONSTRAINT', 'INDEX', 'CONCURRENTLY', 'TYPE', 'SEQUENCE', 'SCHEMA', 'TABLESPACE', 'COLLATE', 'OWNER']);
/** Words that start a table constraint rather than a column after ADD. */
const CONSTRAINT_WORDS = ['CONSTRAINT', 'PRIMARY', 'UNIQUE', 'CHECK', 'FOREIGN', 'EXCLUDE'];

/**
 * The statement to run on the target for DDL on one table. `leftOut`: the names of the table's
 * columns that exist on the source and are left out (a name in another position of the statement
 * may be anything: only these make a clause about left-out columns).
 */
export function planColumns(statement: string, table: string, fate: ColumnFate, leftOut: Set<string>): ColumnPlan {
  const tokens = tokenize(statement);
  const sig: Sig[] = tokens.map((t, i) => ({ t, i })).filter(({ t }) => t.kind !== 'space' && t.kind !== 'comment');
  const clauses = isKeyword(sig[0]?.t, 'ALTER') && isKeyword(sig[1]?.t, 'TABLE', 'FOREIGN') ? alterActions(sig) : commentOnColumn(sig) ?? [{ kind: 'other' as const, tokens: sig }];

  const verdicts = clauses.map((c) => clauseVerdict(c, fate, leftOut));
  const refused = verdicts.find((v) => typeof v === 'object');
  if (refused) return { action: 'refuse', reason: `${refused.refuse} (${table})` };
  if (verdicts.every((v) => v === 'left out')) return { action: 'skip', reason: `it is about column ${namesLeftOut(clauses, fate, leftOut).join(', ')} of ${table}, which objects leaves out` };
  if (verdicts.some((v) => v === 'left out')) {
    return { action: 'refuse', reason: `it changes column ${namesLeftOut(clauses, fate, leftOut).join(', ')} of ${table}, which objects leaves out, together with migrated columns; run them as separate statements` };
  }
  for (const c of clauses) rewriteClause(tokens, c, fate);
  return { action: 'apply', sql: untokenize(tokens) };
}

function clauseVerdict(c: AlterAction, fate: ColumnFate, leftOut: Set<string>): 'kept' | 'left out' | { refuse: string } {
  if (c.kind === 'column') {
    const name = identName(c.name.t)!;
    if (!fate(name).kept) return 'left out';
    // A default, a generated column's expression or a USING clause reading a left-out column.
    const reads = columnWords(c.rest).find((s) => leftOut.has(identName(s.t)!));
    if (reads) return { refuse: `column ${name}'s definition reads column ${identName(reads.t)}, which objects leaves out` };
    return 'kept';
  }
  if (c.kind === 'rename') {
    const from = identName(c.from.t)!;
    const to = identName(c.to.t)!;
    const [a, b] = [fate(from).kept, fate(to).kept];
    if (a !== b) return { refuse: `it renames column ${from} to ${to}, which objects ${a ? 'leaves out' : 'migrates'}, so its values would ${a ? 'vanish from' : 'appear on'} the target mid-stream; rename it in the spec too and start the migration again` };
    return a ? 'kept' : 'left out';
  }
  // An index or a constraint on a left-out column cannot be on the target: the clause is about it.
  return columnWords(c.tokens).some((s) => leftOut.has(identName(s.t)!)) ? 'left out' : 'kept';
}

function namesLeftOut(clauses: AlterAction[], fate: ColumnFate, leftOut: Set<string>): string[] {
  const names = new Set<string>();
  for (const c of clauses) {
    if (c.kind === 'column' && !fate(identName(c.name.t)!).kept) names.add(identName(c.name.t)!);
    if (c.kind === 'rename' && !fate(identName(c.from.t)!).kept) names.add(identName(c.from.t)!);
    if (c.kind === 'other') for (const s of columnWords(c.tokens)) if (leftOut.has(identName(s.t)!)) names.add(identName(s.t)!);
  }
  return [...names];
}

/** Renamed columns under their target names. */
function rewriteClause(tokens: Token[], c: AlterAction, fate: ColumnFate): void {
  const rename = (s: Sig) => {
    const name = identName(s.t)!;
    const target = fate(name).target;
    if (target !== name) tokens[s.i] = { kind: 'ident', text: `"${target.replace(/"/g, '""')}"` };
  };
  if (c.kind === 'column') {
    rename(c.name);
    for (const s of columnWords(c.rest)) rename(s);
  } else if (c.kind === 'rename') {
    rename(c.from);
    rename(c.to);
  } else for (const s of columnWords(c.tokens)) rename(s);
}

/** Names that may be columns: not qualified, not a function, not after a word that names something else. */
function columnWords(sig: Sig[]): Sig[] {
  return sig.filter((s, k) => {
    if (identName(s.t) === undefined) return false;
    if (s.t.kind === 'word' && isReserved(s.t.text)) return false;
    const before = sig[k - 1]?.t;
    const after = sig[k + 1]?.t;
    if (before && (before.text === '.' || before.text === ':' || (before.kind === 'word' && NOT_A_COLUMN_AFTER.has(before.text.toUpperCase())))) return false;
    if (after && (after.text === '.' || after.text === '(')) return false;
    return true;
  });
}

/** SQL's reserved words (and the common DDL keywords) never name a column unquoted. */
const RESERVED = new Set(
  `ALL ANALYSE ANALYZE AND ANY ARRAY AS ASC ASYMMETRIC BOTH CASE CAST CHECK COLLATE COLUMN CONSTRAINT CREATE CURRENT_DATE CURRENT_ROLE CURRENT_TIME
   CURRENT_TIMESTAMP CURRENT_USER DEFAULT DEFERRABLE DESC DISTINCT DO ELSE END EXCEPT FALSE FETCH FOR FOREIGN FROM GRANT GROUP HAVING IN INITIALLY
   INTERSECT INTO LATERAL LEADING LIMIT LOCALTIME LOCALTIMESTAMP NOT NULL OFFSET ON ONLY OR ORDER PLACING PRIMARY REFERENCES RETURNING SELECT
   SESSION_USER SOME SYMMETRIC TABLE THEN TO TRAILING TRUE UNION UNIQUE USER USING VARIADIC WHEN WHERE WINDOW WITH
   ADD ALTER DROP RENAME SET RESET INDEX IF EXISTS KEY CASCADE RESTRICT COMMENT IS NULLS FIRST LAST INCLUDE BTREE HASH GIN GIST BRIN
   VALID VALIDATE NO ACTION MATCH FULL PARTIAL SIMPLE DEFERRED IMMEDIATE STORAGE STATISTICS IDENTITY GENERATED ALWAYS STORED BY`.split(/\s+/),
);
function isReserved(word: string): boolean {
  return RESERVED.has(word.toUpperCase());
}

/** ALTER TABLE [IF EXISTS] [ONLY] name [*] action [, action...]: the actions. */
function alterActions(sig: Sig[]): AlterAction[] {
  let k = 2;
  if (isKeyword(sig[1].t, 'FOREIGN')) k += 1; // ALTER FOREIGN TABLE
  if (isKeyword(sig[k]?.t, 'IF') && isKeyword(sig[k + 1]?.t, 'EXISTS')) k += 2;
  if (isKeyword(sig[k]?.t, 'ONLY')) k += 1;
  k += 1; // the table's name
  while (sig[k]?.t.text === '.') k += 2;
  if (sig[k]?.t.text === '*') k += 1;
  return splitTopLevel(sig.slice(k)).map(alterAction);
}

function splitTopLevel(sig: Sig[]): Sig[][] {
  const out: Sig[][] = [[]];
  let depth = 0;
  for (const s of sig) {
    if (s.t.text === '(') depth += 1;
    if (s.t.text === ')') depth -= 1;
    if (depth === 0 && s.t.kind === 'op' && s.t.text === ',') out.push([]);
    else out[out.length - 1].push(s);
  }
  return out.filter((a) => a.length > 0);
}

function alterAction(a: Sig[]): AlterAction {
  const at = (k: number) => a[k]?.t;
  let k = 1;
  if (isKeyword(at(0), 'RENAME')) {
    if (isKeyword(at(1), 'TO', 'CONSTRAINT')) return { kind: 'other', tokens: a };
    if (isKeyword(at(1), 'COLUMN')) k = 2;
    if (identName(a[k]?.t ?? { kind: 'op', text: '' }) !== undefined && isKeyword(at(k + 1), 'TO') && a[k + 2]) return { kind: 'rename', from: a[k], to: a[k + 2] };
    return { kind: 'other', tokens: a };
  }
  if (isKeyword(at(0), 'ADD', 'DROP', 'ALTER')) {
    if (isKeyword(at(1), ...CONSTRAINT_WORDS) || (isKeyword(at(0), 'ALTER') && isKeyword(at(1), 'CONSTRAINT'))) return { kind: 'other', tokens: a };
    if (isKeyword(at(1), 'COLUMN')) k = 2;
    else if (at(1)?.kind === 'word' && isReserved(at(1)!.text)) return { kind: 'other', tokens: a }; // DROP IDENTITY..., ALTER ... of other things
    if (isKeyword(at(k), 'IF')) k += isKeyword(at(k + 1), 'NOT') ? 3 : 2;
    const name = a[k];
    // After ADD COLUMN's name comes its type, which is no column.
    if (name && identName(name.t) !== undefined) return { kind: 'column', name, rest: a.slice(isKeyword(at(0), 'ADD') ? k + 2 : k + 1) };
  }
  return { kind: 'other', tokens: a };
}

/** COMMENT ON COLUMN table.column IS ...: the column, as a clause. */
function commentOnColumn(sig: Sig[]): AlterAction[] | undefined {
  if (!isKeyword(sig[0]?.t, 'COMMENT') || !isKeyword(sig[1]?.t, 'ON') || !isKeyword(sig[2]?.t, 'COLUMN')) return undefined;
  let k = 3;
  while (sig[k + 1]?.t.text === '.') k += 2;
  return [{ kind: 'column', name: sig[k], rest: [] }];
}
