/**
 * Links to the Temporal Web UI that the CLI prints. Where the UI is cannot be derived from the
 * frontend's address (another port, often another host or a proxy path), so PGFERRY_UI_URL
 * says it; the default is the dev server's (`temporal server start-dev`, the quickstart).
 */
export const DEFAULT_WEB_UI = 'http://localhost:8233';

export class WebUiSettingError extends Error {}

/** The UI's base URL, without a trailing slash; an unusable PGFERRY_UI_URL is named. */
export function webUiBase(env: NodeJS.ProcessEnv = process.env): string {
  const raw = env.PGFERRY_UI_URL?.trim();
  if (!raw) return DEFAULT_WEB_UI;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebUiSettingError(`PGFERRY_UI_URL: ${JSON.stringify(raw)} is not a URL; set the Temporal Web UI's address, e.g. https://temporal.example.com or http://localhost:8233`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new WebUiSettingError(`PGFERRY_UI_URL: ${JSON.stringify(raw)} is not an http(s) URL; set the Temporal Web UI's address, e.g. https://temporal.example.com`);
  }
  return raw.replace(/\/+$/, '');
}

/** The page of one workflow (a migration, or any of its children). */
export function workflowPageUrl(base: string, namespace: string, workflowId: string): string {
  return `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
