/**
 * Replicated DDL in the change stream (incremental.ddl: replicate): the capture's logical
 * messages (common/ddl.ts) arrive in order with the row changes, inside their transaction. Each
 * is applied at its place, in the open target transaction (ddl-apply.ts), after the changes
 * before it; the target transaction then commits at the end of that source transaction, so
 * what follows meets the committed shape. The records of applied DDL are reported to the
 * workflow once their target transaction committed.
 */
import { formatLsn } from '../../common/lsn';
import type { DdlMessage, DdlRecord } from '../../common/ddl';
import type { DdlApplier } from './ddl-apply';
import type { LogicalMessage } from './pgoutput-types';
import type { RelationCache } from './relation-cache';

export class StreamDdl {
  /** DDL applied in the open target transaction (reported once it commits). */
  private applied: DdlRecord[] = [];
  /** A source transaction with DDL ends its target transaction. */
  private commitAsked = false;

  constructor(
    private readonly applier: Pick<DdlApplier, 'apply' | 'endTransaction'>,
    private readonly messagePrefix: string,
    private readonly relations: Pick<RelationCache, 'markStale'>,
  ) {}

  /** Whether a logical message is a captured DDL command. */
  captured(message: LogicalMessage): boolean {
    return message.prefix === this.messagePrefix;
  }

  /** Whether the window must commit at the end of this source transaction. */
  get commitNow(): boolean {
    return this.commitAsked;
  }

  /** Applies a captured command (what came before it is applied already, in the same target transaction). */
  async apply(message: LogicalMessage): Promise<void> {
    this.applied.push(await this.applier.apply(JSON.parse(message.content.toString('utf8')) as DdlMessage, formatLsn(message.lsn)));
    // Tables may have changed shape: each relation is checked again at its next change.
    this.relations.markStale();
    this.commitAsked = true;
  }

  /** A source transaction ended. */
  endTransaction(): void {
    this.applier.endTransaction();
  }

  /** The records of the DDL applied in the transaction being committed. */
  takeForCommit(): DdlRecord[] {
    const taken = this.applied;
    this.applied = [];
    this.commitAsked = false;
    return taken;
  }
}
