/**
 * Names of the source-side replication objects of one migration, derived from its workflow id
 * so that a retried step finds what an earlier attempt created, and cleanup can find every one
 * of them by prefix (nothing is left behind on the source).
 *
 * Slot names allow only lower-case letters, digits and underscores, at most 63 characters.
 * Deterministic and free of Node built-ins: the workflow computes these too.
 */

/** FNV-1a, 32 bits, as 8 hex digits: keeps names unique when the readable part is cut short. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

export interface ReplicationNames {
  /**
   * The publication of the tables that replicate every operation; tables that replicate fewer
   * go in publications named after their operations (`<publication>_i` for inserts only).
   */
  publication: string;
  /** Every slot of this migration starts with this (one slot per snapshot the holder exported). */
  slotPrefix: string;
}

export function replicationNames(workflowId: string): ReplicationNames {
  const readable = workflowId.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 30);
  const base = `pgferry_${readable}_${fnv1a(workflowId)}`;
  return { publication: base, slotPrefix: `${base}_s` };
}

/** The slot made by the snapshot holder's attempt `attempt` (each attempt exports its own snapshot). */
export function slotName(names: ReplicationNames, attempt: number): string {
  return `${names.slotPrefix}${attempt}`;
}

const OPERATION_ORDER = ['insert', 'update', 'delete', 'truncate'];

/**
 * The publication for tables replicating exactly these operations. A table that replicates no
 * updates or deletes is published without them, so the source never refuses an UPDATE on it
 * for lack of a replica identity.
 */
export function publicationFor(names: ReplicationNames, operations: readonly string[]): string {
  const ops = OPERATION_ORDER.filter((o) => operations.includes(o));
  if (ops.length === OPERATION_ORDER.length) return names.publication;
  return `${names.publication}_${ops.map((o) => o[0]).join('')}`;
}
