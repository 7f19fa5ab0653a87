/// <reference types="mocha" />
// Copy Credentials and Open Terminal with Grant inside a real VS Code extension host, against the
// real Elevate server. The fixture's pg-db hands out PostgreSQL credentials: from a command stand-in
// by default, or, with ELEVATE_TEST_POSTGRES=1 (test/extension/run.mjs), from the postgres provider
// against a real PostgreSQL; then the "done when" runs here end to end: request write,
// approved, terminal, psql writes a row, and at expiry the terminal closes, the login is refused
// and the role is gone. When a grant ends, its terminals close and the clipboard is cleared if it
// still holds the copied credentials, and the user gets one notice that says both.
import * as assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import pg from 'pg';
import * as vscode from 'vscode';
import type { AccessRequest, CredentialsResponse, Grant } from '../../../server/protocol';
import type { ElevateApi } from '../../../extension/extension';
import type { Released } from '../../../extension/model/credentialHolders';

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
  /** The notices asked for about a grant's end from now on (whether this window is focused or not). */
  function endNotices(grantId: string): { messages: string[]; dispose(): void } {
    const messages: string[] = [];
    const sub = api.onDidNotify((n) => n.key === `ended:${grantId}` && messages.push(n.message));
    return { messages, dispose: () => sub.dispose() };
  }
  /** Resolves once everything that held the grant's credentials has let go of them. */
  const releaseOf = (grantId: string) => new Promise<Omit<Released, 'grant'>>((resolveReleased) => {
    const sub = api.credentials.onDidRelease(({ grant, ...r }) => {
      if (grant.id !== grantId) return;
      sub.dispose();
      resolveReleased(r);
    });
  });
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

  it('copyCredentials_thenRelinquish_clearsTheClipboard_andTheOneEndNoticeSaysSo', async () => {
    const grant = await pgGrant('read', 600);
    const notices = endNotices(grant.id);
    await vscode.commands.executeCommand('elevate.copyCredentials', grant.id);
    assert.match(await vscode.env.clipboard.readText(), /^postgresql:\/\//);
    const released = releaseOf(grant.id);
    await vscode.commands.executeCommand('elevate.relinquishGrant', grant.id, { confirm: false });
    assert.deepEqual(await within('the credentials let go of', released, 10_000), { reason: 'relinquished', terminals: 0, clipboard: true });
    assert.equal(await vscode.env.clipboard.readText(), '');
    assert.deepEqual(notices.messages, ['You relinquished your read access to Team database. The copied credentials were cleared from the clipboard.']);
    notices.dispose();
  });

  it('copyCredentials_thenTheUserCopiesSomethingElse_theGrantsEndLeavesTheClipboardAlone', async () => {
    const grant = await pgGrant('read', 600);
    await vscode.commands.executeCommand('elevate.copyCredentials', grant.id);
    await vscode.env.clipboard.writeText('the user copied this since');
    const released = releaseOf(grant.id);
    await vscode.commands.executeCommand('elevate.relinquishGrant', grant.id, { confirm: false });
    assert.equal((await within('the end to be handled', released, 10_000)).clipboard, false);
    assert.equal(await vscode.env.clipboard.readText(), 'the user copied this since');
  });

  it('revoked_withATerminalAndCopiedCredentials_oneEndNoticeSaysWhoWhyAndWhatWasClosedAndCleared', async () => {
    const grant = await pgGrant('read', 600);
    const notices = endNotices(grant.id);
    await vscode.commands.executeCommand('elevate.copyCredentials', grant.id);
    const terminal = await vscode.commands.executeCommand<vscode.Terminal>('elevate.openTerminal', grant.id);
    const gone = closed(terminal);
    await http('bob', 'POST', `/v1/grants/${grant.id}/revoke`, { reason: 'incident over' });
    await within('the terminal to close after the revocation', gone, 15_000);
    // the revocation's own event has been handled by then: its general notice stood down
    await waitFor('the revocation event', () => api.model.endedGrant(grant.id)?.status === 'revoked');
    await waitFor('the end notice', () => notices.messages.length > 0);
    assert.deepEqual(notices.messages, [
      'Your read access to Team database was revoked by bob: incident over. Its terminal was closed and the copied credentials were cleared from the clipboard.',
    ]);
    assert.equal(await vscode.env.clipboard.readText(), '');
    notices.dispose();
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

  it('openTerminal_closesAtExpiry_andTheEndIsAnnouncedOnce', async () => {
    const grant = await pgGrant('read', 6);
    const notices = endNotices(grant.id);
    const terminal = await vscode.commands.executeCommand<vscode.Terminal>('elevate.openTerminal', grant.id);
    const gone = closed(terminal);
    await within('the terminal to close at expiry', gone, 20_000);
    assert.ok(Date.now() >= Date.parse(grant.expiresAt) - 1000, 'closed before the grant ended');
    await waitFor('the grant gone from the editor', () => !api.model.grant(grant.id));
    // whichever came first, the end time or the server's grant.expired: both have been seen now
    await waitFor('the expiry event', () => api.model.endedGrant(grant.id)?.status === 'expired');
    await waitFor('the end notice', () => notices.messages.length > 0);
    assert.deepEqual(notices.messages, ['Your read access to Team database has ended. Its terminal was closed.']);
    notices.dispose();
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
