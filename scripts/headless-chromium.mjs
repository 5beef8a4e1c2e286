// One page in headless Chromium, driven over the DevTools protocol (Node's WebSocket: run with
// --experimental-websocket). Shared by read-web-page.mjs and web-ui-signal.mjs.
// The profile holds TMPDIR too, so Chromium's singleton socket directories (org.chromium.Chromium.*)
// go with it; Chromium's helper processes write there as well, so closing kills the whole
// process group, and a profile that cannot be removed yet is left to the system's temporary directory.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Opens `url` in a new headless Chromium (`windowSize`: "width,height"). `onEvent(msg)` gets the protocol's events (enable a
 * domain with `call` to receive its events). Returns `call(method, params)`, which resolves with
 * the command's result or rejects with its error, and `close()`, which always ends the browser.
 */
export async function openPage(url, { windowSize, onEvent = () => {} } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'pgferry-chromium-'));
  const browser = spawn(
    process.env.CHROMIUM ?? 'chromium',
    ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', ...(windowSize ? [`--window-size=${windowSize}`] : []), '--remote-debugging-port=0', `--user-data-dir=${profile}`, 'about:blank'],
    { stdio: ['ignore', 'ignore', 'pipe'], detached: true, env: { ...process.env, TMPDIR: profile } },
  );
  const exited = new Promise((r) => browser.once('exit', r));
  let ws;
  const close = async () => {
    ws?.close();
    try {
      process.kill(-browser.pid, 'SIGKILL');
    } catch {
      browser.kill('SIGKILL');
    }
    await exited;
    await new Promise((r) => setTimeout(r, 200));
    try {
      rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    } catch (err) {
      console.error(`left ${profile}: ${err.message}`);
    }
  };
  try {
    const endpoint = await new Promise((resolve, reject) => {
      let err = '';
      browser.stderr.on('data', (d) => {
        err += d.toString();
        const m = err.match(/DevTools listening on (ws:\/\/\S+)/);
        if (m) resolve(m[1]);
      });
      browser.on('exit', (code) => reject(new Error(`chromium exited (${code}): ${err.slice(-2000)}`)));
      setTimeout(() => reject(new Error(`chromium did not start: ${err.slice(-2000)}`)), 30000);
    });
    const httpBase = endpoint.replace(/^ws:\/\/([^/]+)\/.*$/, 'http://$1');
    const target = await (await fetch(`${httpBase}/json/new?${encodeURIComponent(url)}`, { method: 'PUT' })).json();
    ws = new WebSocket(target.webSocketDebuggerUrl);
    await new Promise((r, j) => {
      ws.onopen = r;
      ws.onerror = j;
    });
  } catch (err) {
    await close();
    throw err;
  }
  let nextId = 1;
  const pending = new Map();
  ws.onmessage = (e) => {
    const msg = JSON.parse(e.data);
    if (msg.id && pending.has(msg.id)) {
      pending.get(msg.id)(msg);
      pending.delete(msg.id);
    } else if (msg.method) onEvent(msg);
  };
  const call = (method, params = {}) =>
    new Promise((r, j) => {
      const id = nextId++;
      pending.set(id, (msg) => (msg.error ? j(new Error(`${method}: ${msg.error.message}`)) : r(msg.result)));
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { call, close };
}
