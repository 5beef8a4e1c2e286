/**
 * Runs a SQL script read from a stream (pg_restore's plain output) on an open connection,
 * in batches: many statements per simple-query message, one round trip per batch. The caller
 * holds the transaction; a failing statement aborts it and is named in the error. With a
 * `TransactionSplit`, the script commits (and begins again) whenever its locks reach the
 * budget (transaction-split.ts).
 */
import { StringDecoder } from 'node:string_decoder';
import type { Client } from 'pg';
import { StatementSplitter } from './statement-splitter';
import { isSessionSetting, lockEstimate, type TransactionSplit } from './transaction-split';

export interface ScriptLimits {
  /** Characters of SQL per batch. */
  batchChars: number;
  /** Statements per batch. */
  batchStatements: number;
}

export const DEFAULT_SCRIPT_LIMITS: ScriptLimits = { batchChars: 1 << 20, batchStatements: 1000 };

/** Reads the whole stream and runs its statements; returns how many ran. */
export async function runSqlScript(
  client: Client,
  script: AsyncIterable<Buffer | string>,
  limits: ScriptLimits = DEFAULT_SCRIPT_LIMITS,
  split?: TransactionSplit,
): Promise<number> {
  const splitter = new StatementSplitter();
  const decoder = new StringDecoder('utf8'); // a chunk may end inside a multi-byte character
  const batch = new Batch(client);
  const transactions = split ? new TransactionCutter(client, batch, split) : undefined;
  const add = async (statement: string) => {
    if (transactions && !(await transactions.admit(statement))) return;
    batch.add(statement);
    if (batch.chars >= limits.batchChars || batch.size >= limits.batchStatements) await batch.flush();
  };
  for await (const chunk of script) {
    const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
    for (const statement of splitter.push(text)) await add(statement);
  }
  for (const statement of splitter.push(decoder.end())) await add(statement);
  for (const statement of splitter.end()) await add(statement);
  await batch.flush();
  return batch.ran;
}

/**
 * Where a split script commits: before the statement that would take its transaction past the
 * lock budget. Counts the script's statements (but session settings) to skip those committed
 * by an earlier attempt.
 */
class TransactionCutter {
  private seen = 0;
  private locks = 0;
  constructor(
    private readonly client: Client,
    private readonly batch: Batch,
    private readonly split: TransactionSplit,
  ) {}

  /** False when the statement was committed already. May commit what came before it. */
  async admit(statement: string): Promise<boolean> {
    if (isSessionSetting(statement)) return true;
    this.seen += 1;
    if (this.seen <= this.split.alreadyCommitted) return false;
    const locks = lockEstimate(statement);
    if (this.locks > 0 && this.locks + locks > this.split.lockBudget) {
      await this.batch.flush();
      await this.client.query(this.split.progressSql(this.seen - 1));
      await this.client.query('COMMIT');
      await this.client.query('BEGIN');
      this.locks = 0;
    }
    this.locks += locks;
    return true;
  }
}

class Batch {
  private statements: string[] = [];
  chars = 0;
  ran = 0;
  constructor(private readonly client: Client) {}

  get size(): number {
    return this.statements.length;
  }

  add(statement: string): void {
    this.statements.push(statement);
    this.chars += statement.length + 1;
  }

  async flush(): Promise<void> {
    if (!this.statements.length) return;
    const sql = this.statements.join('\n');
    try {
      await this.client.query(sql);
    } catch (err) {
      throw withStatement(err, this.statements, (err as { position?: string }).position);
    }
    this.ran += this.statements.length;
    this.statements = [];
    this.chars = 0;
  }
}

/**
 * PostgreSQL's error position counts characters of the whole batch: it tells which statement
 * failed. The statement's first line goes into the message (pg_dump writes object names there).
 */
function withStatement(err: unknown, statements: string[], position: string | undefined): unknown {
  if (!(err instanceof Error)) return err;
  const at = Number(position ?? NaN) - 1;
  let failed: string | undefined;
  if (at >= 0) {
    let offset = 0;
    for (const statement of statements) {
      if (at < offset + statement.length + 1) {
        failed = statement;
        break;
      }
      offset += statement.length + 1;
    }
  }
  const shown = failed ?? (statements.length === 1 ? statements[0] : undefined);
  if (shown) err.message = `${err.message}, in: ${firstLine(shown)}`;
  return err;
}

function firstLine(statement: string): string {
  const line = statement
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l && !l.startsWith('--'));
  const text = line ?? statement.trim();
  return text.length > 160 ? `${text.slice(0, 160)}…` : text;
}
