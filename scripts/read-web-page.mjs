// Loads a page in headless Chromium and prints its rendered text (with its frames') once it shows every given
// string (or after the timeout), through the DevTools protocol. Needs Node's WebSocket:
//   node --experimental-websocket scripts/read-web-page.mjs <url> <timeoutMs> [text...]
// Exit 0 when every text was found, 1 when not (the text is printed either way), 2 on errors.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [url, timeoutArg, ...wanted] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg ?? 60000);
const profile = mkdtempSync(join(tmpdir(), 'pgferry-chromium-'));
const browser = spawn(process.env.CHROMIUM ?? 'chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--remote-debugging-port=0', `--user-data-dir=${profile}`, 'about:blank'], { stdio: ['ignore', 'ignore', 'pipe'], detached: true, env: { ...process.env, TMPDIR: profile } });
const exited = new Promise((r) => browser.once('exit', r));
// TMPDIR inside the profile: Chromium's singleton socket directories (org.chromium.Chromium.*)
// go with it. Chromium's helper processes write to the profile too: kill the whole process group, and a
// profile that cannot be removed yet is left to the system's temporary directory.
const stop = async () => {
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
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((r, j) => {
    ws.onopen = r;
    ws.onerror = j;
  });
  let nextId = 1;
  const pending = new Map();
  ws.onmessage = (e) => {
    const msg = JSON.parse(e.data);
    if (msg.id && pending.has(msg.id)) {
      pending.get(msg.id)(msg);
      pending.delete(msg.id);
    }
  };
  const call = (method, params = {}) =>
    new Promise((r) => {
      const id = nextId++;
      pending.set(id, r);
      ws.send(JSON.stringify({ id, method, params }));
    });
  const deadline = Date.now() + timeoutMs;
  let text = '';
  await call('Page.enable');
  // The Web UI renders user Markdown (current details) in sandboxed iframes: read every frame.
  const frameIds = (tree) => [tree.frame.id, ...(tree.childFrames ?? []).flatMap(frameIds)];
  const frameText = async (frameId) => {
    const world = await call('Page.createIsolatedWorld', { frameId, worldName: 'read-web-page' });
    const contextId = world.result?.executionContextId;
    if (!contextId) return '';
    const res = await call('Runtime.evaluate', { expression: 'document.body ? document.body.innerText : ""', returnByValue: true, contextId });
    return res.result?.result?.value ?? '';
  };
  for (;;) {
    const tree = (await call('Page.getFrameTree')).result?.frameTree;
    const texts = tree ? await Promise.all(frameIds(tree).map(frameText)) : [];
    text = texts.join('\n');
    if (wanted.every((w) => text.includes(w)) || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  process.stdout.write(text);
  ws.close();
  await stop();
  process.exit(wanted.every((w) => text.includes(w)) ? 0 : 1);
} catch (err) {
  console.error(String(err?.stack ?? err));
  await stop();
  process.exit(2);
}
