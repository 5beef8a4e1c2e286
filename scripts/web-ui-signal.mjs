// Sends a Signal or an Update to a running workflow through the Temporal Web UI's own dialog, as
// an operator does it, in headless Chromium over the DevTools protocol (needs Node's WebSocket):
//   node --experimental-websocket scripts/web-ui-signal.mjs <workflow page url> signal|update <name> [input JSON] [timeoutMs]
// On the workflow's page: "More Actions" → "Send a Signal" (or "Send an Update") → the name from
// the dialog's list (the names the workflow defines, which the UI reads from the workflow's
// metadata query while a worker runs; without one, a text field) → the input typed into the
// "Data" editor → "Submit". Clicks are mouse events at the element's place and text is typed
// with Input.insertText, so the page sees what it sees from a person.
// Prints what it did and what the UI answered as JSON on stdout. Exit 0 when the UI said it was
// sent (the dialog closed with its "Workflow signaled." / "Update successful" toast), 1 when the
// UI showed an error or a refusal (the message is in the JSON), 2 when the page did not offer
// what an operator needs (the dialog's HTML goes to stderr).
import { openPage } from './headless-chromium.mjs';

const [url, kind, name, input = '', timeoutArg] = process.argv.slice(2);
if (!url || !['signal', 'update'].includes(kind) || !name) {
  console.error('usage: web-ui-signal.mjs <workflow page url> signal|update <name> [input JSON] [timeoutMs]');
  process.exit(2);
}
const timeoutMs = Number(timeoutArg ?? 60000);
const deadline = Date.now() + timeoutMs;
const modal = kind === 'signal' ? 'signal-confirmation-modal' : 'update-confirmation-modal';
const menuItem = kind === 'signal' ? 'signal-button' : 'update-button';
const successToast = kind === 'signal' ? 'Workflow signaled.' : 'Update successful';

class PageProblem extends Error {}
/** The open dialog's HTML (or the page's text), for a run that went wrong. */
let pageDump = async () => '';
/** The dialog's API calls and their answers. */
let apiReport = async () => [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// The dialog's own API calls (POST …/signal/<name> or …/update/<name>): what the UI sent and got.
const apiCalls = new Map();
const messagePath = new RegExp(`/api/v1/namespaces/[^/]+/workflows/.+/${kind}/`);
const onEvent = (msg) => {
  if (msg.method === 'Network.requestWillBeSent' && msg.params.request.method === 'POST' && messagePath.test(msg.params.request.url)) {
    apiCalls.set(msg.params.requestId, { url: msg.params.request.url, body: msg.params.request.postData });
  } else if (msg.method === 'Network.responseReceived' && apiCalls.has(msg.params.requestId)) {
    apiCalls.get(msg.params.requestId).status = msg.params.response.status;
  } else if (msg.method === 'Network.loadingFinished' && apiCalls.has(msg.params.requestId)) {
    apiCalls.get(msg.params.requestId).finished = true;
  }
};
let page;

try {
  page = await openPage(url, { windowSize: '1400,1000', onEvent });
  const { call } = page;
  /** The value of `fn(...args)` run in the page (fn is a function's source text). */
  const run = async (fn, ...args) => {
    const res = await call('Runtime.evaluate', { expression: `(${fn})(...${JSON.stringify(args)})`, returnByValue: true, awaitPromise: true });
    if (res.exceptionDetails) throw new Error(`in the page: ${res.exceptionDetails.exception?.description ?? res.exceptionDetails.text}`);
    return res.result?.value;
  };
  /** Polls `fn` until it returns something truthy; a PageProblem saying `what` on the deadline. */
  const waitFor = async (what, fn, ...args) => {
    for (;;) {
      const value = await run(fn, ...args);
      if (value) return value;
      if (Date.now() > deadline) throw new PageProblem(`the page never showed ${what}`);
      await sleep(250);
    }
  };
  // The page renders some controls twice (a narrow and a wide layout, one of them hidden):
  // `visible` finds the one a person sees, scrolled into view, and where to click it.
  const visible = String.raw`(selector, text) => {
    for (const el of document.querySelectorAll(selector)) {
      // A list's option is named by its label, without the description under it.
      const label = (el.querySelector('.menu-item-wrapper') ?? el).textContent.trim();
      if (text !== null && label !== text) continue;
      if (el.getClientRects().length === 0 || getComputedStyle(el).visibility !== 'visible') continue;
      el.scrollIntoView({ block: 'center' });
      const r = el.getBoundingClientRect();
      const x = r.x + r.width / 2, y = r.y + r.height / 2;
      const hit = document.elementFromPoint(x, y);
      if (!hit || !(el === hit || el.contains(hit))) continue; // covered, or still moving in
      return { x, y, disabled: el.disabled === true || el.getAttribute('aria-disabled') === 'true' };
    }
    return null;
  }`;
  const dialog = `dialog#${modal}[open]`;
  apiReport = async () => {
    const out = [];
    for (const [requestId, req] of apiCalls) {
      const body = req.finished ? await call('Network.getResponseBody', { requestId }).then((r) => r.body, () => undefined) : undefined;
      out.push({ url: req.url, sent: req.body, status: req.status, answer: body?.slice(0, 4000) });
    }
    return out;
  };
  pageDump = () => run((sel) => document.querySelector(sel)?.outerHTML ?? document.body?.innerText ?? '', dialog);
  /** A person's click: the mouse moved to the element's middle, pressed and released. */
  const click = async (what, selector, text = null) => {
    // Where it stays put for a moment (menus and dialogs move in, editors reformat).
    let at = await waitFor(what, visible, selector, text);
    for (;;) {
      await sleep(150);
      const again = await waitFor(what, visible, selector, text);
      if (again.x === at.x && again.y === at.y) break;
      at = again;
    }
    if (at.disabled) throw new PageProblem(`${what} is disabled`);
    for (const type of ['mouseMoved', 'mousePressed', 'mouseReleased']) await call('Input.dispatchMouseEvent', { type, x: at.x, y: at.y, button: 'left', clickCount: 1 });
  };

  await call('Page.enable');
  await call('Network.enable');
  const report = { kind, name, page: url };

  // The workflow page's actions menu, then the dialog.
  await click('the "More Actions" button', 'button', 'More Actions');
  await click(`"${kind === 'signal' ? 'Send a Signal' : 'Send an Update'}" in the actions menu`, `li[data-testid="${menuItem}"]`);
  await waitFor(`the "${kind === 'signal' ? 'Send a Signal' : 'Send an Update'}" dialog`, (sel) => !!document.querySelector(sel), dialog);

  // The name: a list of the workflow's own names once the UI has the workflow's metadata
  // (it asks the worker), a text field until then or without a worker.
  const selectButton = `${dialog} [data-testid="${kind}-select-button"]`;
  const listed = await run(
    async (sel, until) => {
      while (!document.querySelector(sel) && Date.now() < until) await new Promise((r) => setTimeout(r, 250));
      return !!document.querySelector(sel);
    },
    selectButton,
    Math.min(deadline, Date.now() + 15000),
  );
  if (listed) {
    report.nameField = 'list';
    await click('the name list', selectButton);
    const options = `${dialog} ul[role="listbox"] li[role="option"]`;
    await waitFor('the list of names, open', visible, options, null);
    const listedOptions = await run(
      (sel) => [...document.querySelectorAll(sel)].map((li) => [li.querySelector('span')?.textContent.trim() ?? li.textContent.trim(), li.querySelector('.menu-item-description')?.textContent.trim() ?? '']),
      options,
    );
    report.options = listedOptions.map(([option]) => option);
    // The description the UI shows under each name (from the workflow's handler definitions).
    report.descriptions = Object.fromEntries(listedOptions.filter(([, description]) => description));
    if (!report.options.includes(name)) throw new PageProblem(`the dialog does not list ${name} (it lists ${report.options.join(', ')})`);
    await click(`"${name}" in the list`, options, name);
    report.chosen = await run((sel) => [...document.querySelectorAll(sel)].find((e) => e.getClientRects().length > 0)?.value, `${dialog} input#${kind}-select`);
    if (report.chosen !== name) throw new PageProblem(`the name field shows ${JSON.stringify(report.chosen)} after choosing ${name}`);
  } else {
    report.nameField = 'text';
    await click('the name field', `${dialog} input#${kind}-name`);
    await call('Input.insertText', { text: name });
    report.chosen = await run((sel) => document.querySelector(sel)?.value, `${dialog} input#${kind}-name`);
    if (report.chosen !== name) throw new PageProblem(`the name field shows ${JSON.stringify(report.chosen)} after typing ${name}`);
  }

  // The input, typed into the "Data" editor (a CodeMirror editor; empty means no input). When
  // the editor loses focus the dialog reformats the JSON (indented, one key a line) and the
  // Submit button moves down: leave the editor first (Tab), as a press on Submit straight from
  // the editor blurs it and the release lands where the button was (a click outside the editor
  // but inside the dialog can even close it, the release landing on the dialog's frame).
  if (input) {
    await click('the input editor', `${dialog} .cm-content[contenteditable="true"]`);
    await call('Input.insertText', { text: input });
    for (const type of ['keyDown', 'keyUp']) await call('Input.dispatchKeyEvent', { type, key: 'Tab', code: 'Tab', windowsVirtualKeyCode: 9 });
    await waitFor('the editor to lose focus', (sel) => !document.querySelector(sel)?.contains(document.activeElement), `${dialog} .cm-editor`);
    const same = (shown) => {
      try {
        return JSON.stringify(JSON.parse(shown)) === JSON.stringify(JSON.parse(input));
      } catch {
        return false;
      }
    };
    report.input = await run((sel) => document.querySelector(sel)?.innerText.trim(), `${dialog} .cm-content`);
    if (!same(report.input)) throw new PageProblem(`the editor shows ${JSON.stringify(report.input)} after typing ${input}`);
    const invalid = await run((sel) => document.querySelector(sel)?.textContent, `${dialog} span[role="alert"]`);
    if (invalid) throw new PageProblem(`the dialog refuses the input: ${invalid}`);
  }

  // Submit, and what the UI answers: the dialog closes with a toast, or shows why not.
  await click('the enabled Submit button', `${dialog} button[data-testid="confirm-modal-button"]`);
  const outcome = await waitFor(
    'an answer to Submit (the dialog closing, or an error in it)',
    (sel, toast) => {
      const open = document.querySelector(sel);
      const text = document.body.innerText;
      if (!open) return { sent: true, toast: text.includes(toast) ? toast : undefined };
      // The dialog's error line, or an Update's refusal or failure (error alerts have role="alert").
      const errors = [...open.querySelectorAll('[role="alert"]')].filter((e) => e.getClientRects().length > 0 && e.textContent.trim()).map((e) => e.innerText.trim());
      return errors.length > 0 ? { sent: false, error: errors.join('\n') } : null;
    },
    dialog,
    successToast,
  );
  Object.assign(report, outcome);
  report.requests = await apiReport();
  if (outcome.sent && !outcome.toast) {
    // The toast may come a moment after the dialog closed.
    report.toast = await waitFor(`the "${successToast}" toast`, (toast) => (document.body.innerText.includes(toast) ? toast : null), successToast).catch(() => undefined);
  }
  if (!outcome.sent) console.error((await pageDump()).slice(0, 20000));
  process.stdout.write(JSON.stringify(report));
  await page.close();
  process.exit(outcome.sent ? 0 : 1);
} catch (err) {
  if (err instanceof PageProblem) {
    console.error(`${err.message}\nthe dialog's API calls: ${JSON.stringify(await apiReport().catch(() => []))}`);
    console.error((await pageDump().catch(() => '')).slice(0, 20000));
  }
  else console.error(String(err?.stack ?? err));
  await page?.close();
  process.exit(2);
}
