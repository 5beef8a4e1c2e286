/**
 * Which of a unit's tables share a round trip. Small tables copy several per query on each
 * side (copy-relay.ts): a `COPY ... TO STDOUT` per table on the source, and on the target a
 * `COPY ... FROM STDIN` per table, each followed by its key builds, then one ANALYZE of them
 * all. Over 2,000 tiny tables, a round trip per table on each side (and the worker's stream
 * plumbing for each) took a quarter of the data phase and a third of the worker's CPU
 * (bench/RESULTS-levers.md, eighth pass).
 *
 * A table goes alone when something happens between its rows and the next table's: it is big
 * (its index builds run one by one, so the heartbeat names each), it stages its rows (a table
 * kept from before), or it needs a look at the target first (copied before under a lost snapshot).
 */

/** Tables per query, at most: bounds the query text and how much one failure names. */
export const GROUP_TABLES = 100;
/** Listed bytes per query, at most: a group of mid-size tables still reports progress table by table. */
export const GROUP_BYTES = 8 * 1024 * 1024;

export interface Groupable {
  /** May share a query with its neighbours. */
  shares: boolean;
  /** Binary or text: one query's copies share their format (the relay counts rows by it). */
  format: string;
  /** Size as listed. */
  bytes: number;
}

/** The items in their order, cut into runs that each make one query: a lone item, or neighbours that may share. */
export function copyGroups<T extends Groupable>(items: readonly T[], maxTables = GROUP_TABLES, maxBytes = GROUP_BYTES): T[][] {
  const groups: T[][] = [];
  let open: T[] = [];
  let openBytes = 0;
  const close = () => {
    if (open.length) groups.push(open);
    open = [];
    openBytes = 0;
  };
  for (const item of items) {
    if (!item.shares) {
      close();
      groups.push([item]);
      continue;
    }
    const fits = open.length < maxTables && open[0]?.format === item.format && openBytes + item.bytes <= maxBytes;
    if (open.length && !fits) close();
    open.push(item);
    openBytes += item.bytes;
  }
  close();
  return groups;
}
