// Helpers shared by the issue-15 suites (context.test.ts, workspace.test.ts, agent.test.ts):
// waiting, calling the real server as a policy user, and leaving nothing behind.
import * as vscode from 'vscode';
import type { AccessRequest, Grant } from '../../../server/protocol';
import type { ElevateApi } from '../../../extension/extension';

export const SERVER = process.env.ELEVATE_TEST_URL ?? '';
export const TOKENS: Record<string, string> = JSON.parse(process.env.ELEVATE_TEST_TOKENS || '{}');
export const PG_URL = process.env.ELEVATE_TEST_PG_URL ?? '';

export async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function within<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

export async function http<T = unknown>(user: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(new URL(path, SERVER), {
    method,
    headers: { authorization: `Bearer ${TOKENS[user]}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`${method} ${path} as ${user}: HTTP ${res.status} ${JSON.stringify(json)}`);
  return json;
}

export async function cleanUp(user: string): Promise<void> {
  const { grants } = await http<{ grants: Grant[] }>(user, 'GET', '/v1/grants?scope=mine&status=active');
  for (const g of grants) await http(user, 'POST', `/v1/grants/${g.id}/relinquish`, {}).catch(() => undefined);
  const { requests } = await http<{ requests: AccessRequest[] }>(user, 'GET', '/v1/requests?scope=mine&status=pending');
  for (const r of requests) await http(user, 'POST', `/v1/requests/${r.id}/cancel`, {}).catch(() => undefined);
}

/** The extension, signed in as `user` with its event stream open. */
export async function signedIn(user: string): Promise<ElevateApi> {
  const ext = vscode.extensions.getExtension<ElevateApi>('elevate.elevate');
  if (!ext) throw new Error('extension not installed');
  const api = await ext.activate();
  await cleanUp(user);
  await api.signIn(SERVER, TOKENS[user]);
  await waitFor(`signed in as ${user}`, () => api.model.state === 'ready' && api.model.me?.id === user);
  await waitFor('event stream open', () => api.model.live === 'open');
  return api;
}

/** The workspace folder the suites run in. */
export function workspaceFolder(): vscode.Uri {
  const f = vscode.workspace.workspaceFolders?.[0];
  if (!f) throw new Error('the suite runs without a workspace folder');
  return f.uri;
}

/** The audit events of `action` about `requestId` (carol is admin and auditor). */
export async function auditOf(action: string, requestId: string): Promise<{ details: Record<string, unknown> }[]> {
  const { events } = await http<{ events: { action: string; requestId?: string; details: Record<string, unknown> }[] }>(
    'carol',
    'GET',
    `/v1/audit?action=${encodeURIComponent(action)}&limit=1000`,
  );
  return events.filter((e) => e.requestId === requestId);
}

/**
 * Runs `action` while recording every URL this extension host fetches (the extension's client
 * calls the global fetch, and the suites share the extension host with it).
 */
export async function watchingRequests<T>(action: () => Promise<T> | T): Promise<{ result: T; urls: string[] }> {
  const urls: string[] = [];
  const real = globalThis.fetch;
  globalThis.fetch = (input, init) => {
    urls.push(input instanceof Request ? input.url : String(input));
    return real(input, init);
  };
  try {
    return { result: await action(), urls };
  } finally {
    globalThis.fetch = real;
  }
}
