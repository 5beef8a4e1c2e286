// Loads a page in headless Chromium and prints its rendered text (with its frames') once it shows every given
// string (or after the timeout), through the DevTools protocol. Needs Node's WebSocket:
//   node --experimental-websocket scripts/read-web-page.mjs <url> <timeoutMs> [text...]
// Exit 0 when every text was found, 1 when not (the text is printed either way), 2 on errors.
import { openPage } from './headless-chromium.mjs';

const [url, timeoutArg, ...wanted] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg ?? 60000);
let page;

try {
  page = await openPage(url);
  const { call } = page;
  const deadline = Date.now() + timeoutMs;
  let text = '';
  await call('Page.enable');
  // The Web UI renders user Markdown (current details) in sandboxed iframes: read every frame.
  const frameIds = (tree) => [tree.frame.id, ...(tree.childFrames ?? []).flatMap(frameIds)];
  const frameText = async (frameId) => {
    try {
      const world = await call('Page.createIsolatedWorld', { frameId, worldName: 'read-web-page' });
      const res = await call('Runtime.evaluate', { expression: 'document.body ? document.body.innerText : ""', returnByValue: true, contextId: world.executionContextId });
      return res.result?.value ?? '';
    } catch {
      return ''; // a frame that went away meanwhile
    }
  };
  for (;;) {
    const tree = (await call('Page.getFrameTree'))?.frameTree;
    const texts = tree ? await Promise.all(frameIds(tree).map(frameText)) : [];
    text = texts.join('\n');
    if (wanted.every((w) => text.includes(w)) || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  process.stdout.write(text);
  await page.close();
  process.exit(wanted.every((w) => text.includes(w)) ? 0 : 1);
} catch (err) {
  console.error(String(err?.stack ?? err));
  await page?.close();
  process.exit(2);
}
