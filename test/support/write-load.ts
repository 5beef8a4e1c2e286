/**
 * A concurrent write load on the incremental test database: several connections running small
 * transactions of inserts, updates and deletes on every kind of table (with a key, without a key
 * under REPLICA IDENTITY FULL, with TOASTed values, partitioned, with a foreign key, an
 * insert-only log without any identity), until stopped.
 */
import { Client } from 'pg';
import type { PgCluster } from '../../launch/postgres';

export const LOAD_SCHEMA_SQL = `
CREATE TABLE accounts (id bigserial PRIMARY KEY, owner text NOT NULL, balance numeric(14,2) NOT NULL, tags text[], updated timestamptz);
CREATE TABLE orders (id serial PRIMARY KEY, account_id bigint NOT NULL REFERENCES accounts (id), amount numeric(12,2), note text);
CREATE TABLE docs (id int PRIMARY KEY, title text NOT NULL, body text);
CREATE TABLE events_nokey (kind text, n int, payload jsonb);
ALTER TABLE events_nokey REPLICA IDENTITY FULL;
CREATE TABLE "Mixed Case" ("Key" int PRIMARY KEY, "Value" text);
CREATE TABLE measurements (region int NOT NULL, id bigint NOT NULL, v numeric, PRIMARY KEY (region, id)) PARTITION BY LIST (region);
CREATE TABLE measurements_r1 PARTITION OF measurements FOR VALUES IN (1);
CREATE TABLE measurements_r2 PARTITION OF measurements FOR VALUES IN (2);
CREATE SEQUENCE ticket_seq;
-- No key and no replica identity: fine for a table whose inserts alone are replicated.
CREATE TABLE audit_log (at timestamptz NOT NULL, what text);

INSERT INTO accounts (owner, balance, tags) SELECT 'owner ' || g, g / 10.0, ARRAY['t' || (g % 7), NULL, 'quote"d,'] FROM generate_series(1, 20000) g;
INSERT INTO orders (account_id, amount) SELECT g, g % 100 FROM generate_series(1, 5000) g;
-- Bodies of ~320 kB of hex: stored out of line, so an update that leaves them alone streams them as "unchanged TOAST".
INSERT INTO docs SELECT d, 'doc ' || d, (SELECT string_agg(md5(random()::text || g::text || d::text), '') FROM generate_series(1, 10000) g) FROM generate_series(1, 30) d;
INSERT INTO events_nokey SELECT CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END, g % 50, jsonb_build_object('g', g % 50) FROM generate_series(1, 6000) g;
INSERT INTO "Mixed Case" SELECT g, 'v' || g FROM generate_series(1, 500) g;
INSERT INTO measurements SELECT 1 + g % 2, g, g * 1.5 FROM generate_series(1, 4000) g;
`;

/** One transaction of the load, chosen by `i`. */
async function step(c: Client, i: number): Promise<void> {
  const r = (n: number) => 1 + Math.floor(Math.random() * n);
  await c.query('BEGIN');
  switch (i % 6) {
    case 0:
      await c.query(`INSERT INTO accounts (owner, balance, tags) VALUES ($1, $2, $3)`, [`new ${i}`, r(1000), ['x', null, `é${i}`]]);
      await c.query(`UPDATE accounts SET balance = balance + 1, updated = now() WHERE id = $1`, [r(20000)]);
      break;
    case 1:
      await c.query(`INSERT INTO orders (account_id, amount, note) VALUES ($1, $2, $3)`, [r(20000), r(500), `n${i}`]);
      await c.query(`DELETE FROM accounts a WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.account_id = a.id)`, [r(20000)]);
      await c.query(`SELECT nextval('ticket_seq')`);
      await c.query(`INSERT INTO audit_log VALUES (now(), $1)`, [`order ${i}`]);
      break;
    case 2:
      // Leaves the TOASTed body alone (streamed as unchanged), or now and then replaces it.
      if (i % 12 === 2) await c.query(`UPDATE docs SET body = md5($2::text) || body, title = title || '+' WHERE id = $1`, [r(30), String(i)]);
      else await c.query(`UPDATE docs SET title = 'doc ' || id || ' v' || $2 WHERE id = $1`, [r(30), String(i)]);
      break;
    case 3:
      await c.query(`INSERT INTO events_nokey VALUES ('a', $1, $2), ('a', $1, $2)`, [r(50), JSON.stringify({ g: i % 50 })]);
      await c.query(`DELETE FROM events_nokey WHERE ctid = (SELECT ctid FROM events_nokey WHERE kind = 'b' AND n = $1 LIMIT 1)`, [r(50)]);
      await c.query(`UPDATE events_nokey SET n = n + 100 WHERE ctid = (SELECT ctid FROM events_nokey WHERE kind = 'a' AND n = $1 LIMIT 1)`, [r(50)]);
      break;
    case 4:
      await c.query(`INSERT INTO measurements VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [1 + (i % 2), 100000 + i, i / 3]);
      await c.query(`UPDATE measurements SET v = v + 1 WHERE region = $1 AND id = $2`, [1 + (i % 2), r(4000)]);
      break;
    default:
      await c.query(`UPDATE "Mixed Case" SET "Value" = "Value" || '.' WHERE "Key" = $1`, [r(500)]);
      await c.query(`DELETE FROM orders WHERE id = $1`, [r(5000)]);
  }
  await c.query('COMMIT');
}

export interface WriteLoad {
  /** Transactions committed so far. */
  committed(): number;
  stop(): Promise<void>;
}

export async function startWriteLoad(cluster: PgCluster, db: string, connections = 3): Promise<WriteLoad> {
  let running = true;
  let committed = 0;
  const loops: Promise<void>[] = [];
  const connect = async () => {
    const c = new Client({ host: cluster.host, port: cluster.port, user: cluster.user, database: db, password: cluster.password });
    c.on('error', () => undefined); // the session may be ended under it (--lock-source does that)
    await c.connect();
    return c;
  };
  for (let w = 0; w < connections; w += 1) {
    let c: Client | undefined = await connect();
    loops.push(
      (async () => {
        for (let i = w; running; i += connections) {
          try {
            c ??= await connect();
            await step(c, i);
            committed += 1;
            await new Promise((r) => setTimeout(r, 2));
          } catch {
            // A deadlock between loops, a read-only source, an ended session: skip this one.
            await c?.query('ROLLBACK').catch(() => {
              void c?.end().catch(() => undefined);
              c = undefined;
            });
            await new Promise((r) => setTimeout(r, 50));
          }
        }
        await c?.end().catch(() => undefined);
      })(),
    );
  }
  return {
    committed: () => committed,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Replication slots, publications and the DDL capture (event triggers, its schema) left on the source. */
export async function replicationLeftovers(cluster: PgCluster, db: string): Promise<string[]> {
  const slots = await cluster.query<{ n: string }>('SELECT slot_name AS n FROM pg_replication_slots', db);
  const pubs = await cluster.query<{ n: string }>('SELECT pubname AS n FROM pg_publication', db);
  const triggers = await cluster.query<{ n: string }>('SELECT evtname AS n FROM pg_event_trigger', db);
  const schemas = await cluster.query<{ n: string }>(`SELECT nspname AS n FROM pg_namespace WHERE nspname LIKE '\\_pgferry\\_ddl\\_%'`, db);
  return [...slots.map((s) => `slot ${s.n}`), ...pubs.map((p) => `publication ${p.n}`), ...triggers.map((t) => `event trigger ${t.n}`), ...schemas.map((s) => `schema ${s.n}`)];
}
