/// <reference types="mocha" />
// Copy Credentials and Open Terminal with Grant inside a real VS Code extension host, against the
// real Elevate server. The fixture's pg-db hands out PostgreSQL credentials: from a command stand-in
// by default, or, with ELEVATE_TEST_POSTGRES=1 (test/extension/run.mjs), from the postgres provider
// against a real PostgreSQL; then the "done when" runs here end to end: request write,
// approved, terminal, psql writes a row, and at expiry the terminal closes, the login is refused
// and the role is gone.
import * as assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import pg from 'pg';
import * as vscode from 'vscode';
import type { AccessRequest, CredentialsResponse, Grant } from '../../../server/protocol';
import type { ElevateApi } from '../../../extension/extension';

const SERVER = process.env.ELEVATE_TEST_URL ?? '';
const TOKENS: Record<string, string> = JSON.parse(process.env.ELEVATE_TEST_TOKENS || '{}');
const PG_URL = process.env.ELEVATE_TEST_PG_URL ?? '';
// dist/test/extension/ -> the repository
const ROOT = resolve(__dirname, '../../..');

async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function http<T = unknown>(user: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(new URL(path, SERVER), {
    method,
    headers: { authorization: `Bearer ${TOKENS[user]}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`${method} ${path} as ${user}: HTTP ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function cleanUp(user: string): Promise<void> {
  const { grants } = await http<{ grants: Grant[] }>(user, 'GET', '/v1/grants?scope=mine&status=active');
  for (const g of grants) await http(user, 'POST', `/v1/grants/${g.id}/relinquish`, {}).catch(() => undefined);
  const { requests } = await http<{ requests: AccessRequest[] }>(user, 'GET', '/v1/requests?scope=mine&status=pending');
  for (const r of requests) await http(user, 'POST', `/v1/requests/${r.id}/cancel`, {}).catch(() => undefined);
}

/** Resolves when `terminal` is closed (by anyone), with the time it took. */
function closed(terminal: vscode.Terminal): Promise<number> {
  const t0 = Date.now();
  return new Promise((resolveClosed) => {
    const d = vscode.window.onDidCloseTerminal((t) => {
      if (t !== terminal) return;
      d.dispose();
      resolveClosed(Date.now() - t0);
    });
  });
}

function within<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)))]).finally(() => clearTimeout(timer));
}

const onPath = (exe: string) => (process.env.PATH ?? '').split(delimiter).some((d) => d && existsSync(join(d, exe)));

describe('Credentials in the editor', function () {
  this.timeout(90_000);
  let api: ElevateApi;

  before(async function () {
    if (!SERVER || !TOKENS.alice || !TOKENS.bob) this.skip();
    const ext = vscode.extensions.getExtension<ElevateApi>('elevate.elevate');
    assert.ok(ext, 'extension not installed');
    api = await ext.activate();
    await cleanUp('alice');
    await api.signIn(SERVER, TOKENS.alice);
    await waitFor('signed in as alice', () => api.model.state === 'ready' && api.model.me?.id === 'alice');
    await waitFor('event stream open', () => api.model.live === 'open');
  });
  afterEach(async () => {
    for (const t of vscode.window.terminals) if (/ — until /.test(t.name)) t.dispose();
    await cleanUp('alice');
    await waitFor('alice has nothing active', () => api.model.grants.length === 0 && api.model.myRequests.length === 0);
  });

  /** alice asks for pg-db, bob approves: the grant, once the editor shows it. */
  async function pgGrant(role: 'read' | 'write', durationSeconds: number): Promise<Grant> {
    const { request } = await http<{ request: AccessRequest }>('alice', 'POST', '/v1/requests', { resourceId: 'pg-db', role, durationSeconds, justification: 'credentials test' });
    const { grant } = await http<{ grant: Grant }>('bob', 'POST', `/v1/requests/${request.id}/approve`, {});
    await waitFor('the grant in the editor', () => api.model.grant(grant.id));
    return grant;
  }
  const credentialsOf = async (grantId: string) =>
    waitFor('credentials', () => http<CredentialsResponse>('alice', 'GET', `/v1/grants/${grantId}/credentials`).catch(() => undefined));

  it('copyCredentials_putsAPostgresConnectionUriOnTheClipboard', async () => {
    const grant = await pgGrant('write', 600);
    await vscode.env.clipboard.writeText('before');
    const result = await vscode.commands.executeCommand<{ kind: string; keys: string[] }>('elevate.copyCredentials', grant.id);
    assert.equal(result?.kind, 'uri');
    const c = (await credentialsOf(grant.id)).credentials;
    const text = await vscode.env.clipboard.readText();
    assert.equal(text, `postgresql://${c.PGUSER}:${encodeURIComponent(c.PGPASSWORD)}@${c.PGHOST}:${c.PGPORT}/${c.PGDATABASE}`);
    assert.equal(decodeURIComponent(new URL(text).password), c.PGPASSWORD);
  });

  it('openTerminal_carriesTheCredentialsInItsEnvironment_andClosesWhenTheGrantIsRelinquished', async () => {
    const grant = await pgGrant('write', 600);
    const terminal = await vscode.commands.executeCommand<vscode.Terminal>('elevate.openTerminal', grant.id);
    assert.ok(terminal, 'no terminal');
    const c = (await credentialsOf(grant.id)).credentials;
    const opts = terminal.creationOptions as vscode.TerminalOptions;
    for (const k of ['PGHOST', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGDATABASE']) assert.equal(opts.env?.[k], c[k], k);
    assert.match(terminal.name, /^Team database \(write\) — until \S/);
    assert.equal(opts.isTransient, true);
    assert.ok(vscode.window.terminals.includes(terminal));

    const gone = closed(terminal);
    await vscode.commands.executeCommand('elevate.relinquishGrant', grant.id, { confirm: false });
    await within('the terminal to close after relinquish', gone, 10_000);
    assert.ok(!vscode.window.terminals.includes(terminal));
  });

  it('openTerminal_closesWhenAnApproverRevokesTheGrant', async () => {
    const grant = await pgGrant('read', 600);
    const terminal = await vscode.commands.executeCommand<vscode.Terminal>('elevate.openTerminal', grant.id);
    const gone = closed(terminal);
    await http('bob', 'POST', `/v1/grants/${grant.id}/revoke`, { reason: 'incident over' });
    // only the live event tells the editor: nothing here touched the model
    await within('the terminal to close after the revocation', gone, 15_000);
  });

  it('openTerminal_closesAtExpiry', async () => {
    const grant = await pgGrant('read', 6);
    const terminal = await vscode.commands.executeCommand<vscode.Terminal>('elevate.openTerminal', grant.id);
    const gone = closed(terminal);
    await within('the terminal to close at expiry', gone, 20_000);
    assert.ok(Date.now() >= Date.parse(grant.expiresAt) - 1000, 'closed before the grant ended');
    await waitFor('the grant gone from the editor', () => !api.model.grant(grant.id));
  });

  it('openTerminal_withNoActiveGrant_opensNothing', async () => {
    const before = vscode.window.terminals.length;
    const result = await vscode.commands.executeCommand('elevate.openTerminal');
    assert.equal(result, undefined);
    assert.equal(vscode.window.terminals.length, before);
  });

  describe('against a real PostgreSQL (ELEVATE_TEST_POSTGRES=1)', () => {
    let admin: pg.Client;
    before(async function () {
      if (!PG_URL) this.skip();
      admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
    });
    after(async () => { await admin?.end().catch(() => undefined); });

    it('writeGrant_psqlInTheTerminalWritesARow_andAtExpiryTheTerminalClosesTheLoginIsRefusedAndTheRoleIsGone', async () => {
      const grant = await pgGrant('write', 25);
      const terminal = await vscode.commands.executeCommand<vscode.Terminal>('elevate.openTerminal', grant.id);
      const gone = closed(terminal);
      const creds = (await credentialsOf(grant.id)).credentials;
      assert.equal((await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [creds.PGUSER])).rowCount, 1);

      // what a developer types: psql reads PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE from the terminal
      const marker = `written from the editor terminal ${Date.now()}`;
      const sql = `INSERT INTO notes (body) VALUES ('${marker}')`;
      terminal.sendText(onPath('psql')
        ? `psql -v ON_ERROR_STOP=1 -c "${sql}"`
        : `node ${JSON.stringify(join(ROOT, 'test/extension/fixtures/pg-exec.cjs'))} "${sql}"`);
      await waitFor('the row written from the terminal', async () =>
        (await admin.query('SELECT 1 FROM notes WHERE body = $1', [marker])).rowCount === 1, 20_000);

      await within('the terminal to close at expiry', gone, 40_000);
      await waitFor('the login role dropped', async () =>
        (await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [creds.PGUSER])).rowCount === 0, 20_000);
      const login = new pg.Client({ host: creds.PGHOST, port: Number(creds.PGPORT), user: creds.PGUSER, password: creds.PGPASSWORD, database: creds.PGDATABASE });
      login.on('error', () => undefined);
      await assert.rejects(login.connect(), /password authentication failed|does not exist/);
      // what was written during the grant stays
      assert.equal((await admin.query('SELECT 1 FROM notes WHERE body = $1', [marker])).rowCount, 1);
    });
  });
});
