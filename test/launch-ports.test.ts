// The launchers of the Temporal dev server and of PostgreSQL pick their ports free, and a port
// can be taken between the pick and the server's bind (by another test's outgoing connection;
// Temporal's Web UI binds last): such a launch goes again on other ports, while a port the
// caller chose is kept and its failure reported.
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '../launch/ports';
import { startPostgres } from '../launch/postgres';
import { startTemporalServer } from '../launch/temporal';

let taken: Server;
let takenPort: number;

beforeAll(async () => {
  taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  takenPort = (taken.address() as { port: number }).port;
});

afterAll(() => {
  taken?.close();
});

it('launches again on other ports when a picked port was taken meanwhile', async () => {
  // The fourth pick is the Web UI's: the first time, a port something else listens on.
  let picks = 0;
  const pickPort = async () => (++picks === 4 ? takenPort : freePort());
  const server = await startTemporalServer({ ui: true, searchAttributes: false, pickPort });
  try {
    expect(picks).toBeGreaterThan(4); // picked again after the failed launch
    expect(server.uiPort).toBeDefined();
    expect(server.uiPort).not.toBe(takenPort);
    const page = await fetch(`http://127.0.0.1:${server.uiPort}/`);
    expect(page.status).toBe(200);
  } finally {
    await server.stop();
  }
});

it("reports a port the caller chose that is taken, and does not pick another", async () => {
  await expect(startTemporalServer({ uiPort: takenPort, searchAttributes: false })).rejects.toThrow(/address already in use/);
});

it('starts PostgreSQL on another port when the one picked was taken meanwhile', async () => {
  let picks = 0;
  const pg = await startPostgres({ name: 'port-taken', pickPort: async () => (++picks === 1 ? takenPort : freePort()) });
  try {
    expect(picks).toBe(2);
    expect(pg.port).not.toBe(takenPort);
    expect(await pg.query<{ one: number }>('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  } finally {
    await pg.stop();
  }
});
