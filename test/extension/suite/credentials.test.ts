/// <reference types="mocha" />
// Copy Credentials and Open Terminal with Grant inside a real VS Code extension host, against the
// real Elevate server. The fixture's pg-db hands out PostgreSQL credentials: from a command stand-in
// by default, or, with ELEVATE_TEST_POSTGRES=1 (test/extension/run.mjs), from the postgres provider
// against a real PostgreSQL; then the "done when" runs here end to end: request write,
// approved, terminal, psql writes a row, and at expiry the terminal's session ends, the login is
// refused and the role is gone. When a grant ends, its terminals' shells are hung up (no process
// in them holds the credentials; the terminal stays open, read-only, with one line saying so) and
// the clipboard is cleared if it still holds the copied credentials; one notice says both.
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import pg from 'pg';
import * as vscode from 'vscode';
import type { AccessRequest, CredentialsResponse, Grant } from '../../../server/protocol';
import type { ElevateApi } from '../../../extension/extension';
import type { Released } from '../../../extension/model/credentialHolders';
import { PG_URL, SERVER, TOKENS, cleanUp, http, signedIn, waitFor, within } from './lib';

// dist/test/extension/ -> the repository
const ROOT = resolve(__dirname, '../../..');

/** Resolves when `terminal` is closed (by anyone). */
function closed(terminal: vscode.Terminal): Promise<void> {
  return new Promise((resolveClosed) => {
    const d = vscode.window.onDidCloseTerminal((t) => {
      if (t !== terminal) return;
      d.dispose();
      resolveClosed();
    });
  });
}

/**
 * The processes running in a terminal (its session, Linux /proc): each one's command line and
 * whether its environment holds `secret`.
 */
async function processesOf(terminal: vscode.Terminal, secret: string): Promise<{ pid: number; cmd: string; holdsSecret: boolean }[]> {
  const sid = await terminal.processId;
  assert.ok(sid, 'the terminal has a process');
  const out: { pid: number; cmd: string; holdsSecret: boolean }[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]) !== sid) continue;
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ').trim();
      out.push({
        pid: Number(d),
        cmd,
        holdsSecret: readFileSync(`/proc/${d}/environ`, 'utf8')
          .split('\0')
          .some((kv) => kv.includes(secret)),
      });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** What the terminal shows, as text (select all, copy). */
async function terminalText(terminal: vscode.Terminal): Promise<string> {
  terminal.show(false);
  await vscode.commands.executeCommand('workbench.action.terminal.selectAll');
  await vscode.commands.executeCommand('workbench.action.terminal.copySelection');
  await vscode.commands.executeCommand('workbench.action.terminal.clearSelection');
  return vscode.env.clipboard.readText();
}

const onPath = (exe: string) => (process.env.PATH ?? '').split(delimiter).some((d) => d && existsSync(join(d, exe)));

describe('Credentials in the editor', function () {
  this.timeout(90_000);
  let api: ElevateApi;

  before(async function () {
    if (!SERVER || !TOKENS.alice || !TOKENS.bob) this.skip();
    api = await signedIn('alice');
  });
  afterEach(async () => {
    for (const t of vscode.window.terminals) if (/ — until /.test(t.name)) t.dispose();
    await cleanUp('alice');
    await waitFor('alice has nothing active', () => api.model.grants.length === 0 && api.model.myRequests.length === 0);
  });

  /** alice asks for pg-db, bob approves: the grant, once the editor shows it. */
  async function pgGrant(role: 'read' | 'write', durationSeconds: number): Promise<Grant> {
    const { request } = await http<{ request: AccessRequest }>('alice', 'POST', '/v1/requests', {
      resourceId: 'pg-db',
      role,
      durationSeconds,
      justification: 'credentials test',
    });
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
  const releaseOf = (grantId: string) =>
    new Promise<Omit<Released, 'grant'>>((resolveReleased) => {
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

  it('revoked_withATerminalAndCopiedCredentials_oneEndNoticeSaysWhoWhyAndWhatWasEndedAndCleared', async () => {
    const grant = await pgGrant('read', 600);
    const notices = endNotices(grant.id);
    await vscode.commands.executeCommand('elevate.copyCredentials', grant.id);
    await vscode.commands.executeCommand<vscode.Terminal>('elevate.openTerminal', grant.id);
    const released = releaseOf(grant.id);
    await http('bob', 'POST', `/v1/grants/${grant.id}/revoke`, { reason: 'incident over' });
    assert.deepEqual(await within('the credentials let go of after the revocation', released, 15_000), { reason: 'revoked', terminals: 1, clipboard: true });
    // the revocation's own event has been handled by then: its general notice stood down
    await waitFor('the revocation event', () => api.model.endedGrant(grant.id)?.status === 'revoked');
    await waitFor('the end notice', () => notices.messages.length > 0);
    assert.deepEqual(notices.messages, [
      "Your read access to Team database was revoked by bob: incident over. Its terminal's session was ended (the output stays readable) and the copied credentials were cleared from the clipboard.",
    ]);
    assert.equal(await vscode.env.clipboard.readText(), '');
    notices.dispose();
  });

  /** Waits until the shell in a grant terminal holds the password (it has started). */
  const shellStarted = (terminal: vscode.Terminal, password: string) =>
    waitFor('the shell in the terminal', async () => (await processesOf(terminal, password)).some((p) => p.holdsSecret), 20_000);
  /** Waits until no process in the terminal holds the password, and checks the terminal is still open and idle. */
  async function credentialsEnded(terminal: vscode.Terminal, password: string, timeoutMs = 15_000): Promise<void> {
    await waitFor(
      'no process in the terminal holding the credentials',
      async () => !(await processesOf(terminal, password)).some((p) => p.holdsSecret),
      timeoutMs,
    );
    assert.ok(vscode.window.terminals.includes(terminal), 'the terminal stays open');
    assert.equal(terminal.exitStatus, undefined);
    // what is left is the idle stand-in, started with an empty environment
    assert.deepEqual(
      (await processesOf(terminal, password)).map((p) => p.cmd.split(' ')[0]),
      ['sleep'],
    );
  }

  it('openTerminal_carriesTheCredentialsInItsEnvironment_andWhenTheGrantIsRelinquished_endsThemButKeepsTheOutput', async () => {
    const grant = await pgGrant('write', 600);
    const terminal = await vscode.commands.executeCommand<vscode.Terminal>('elevate.openTerminal', grant.id);
    assert.ok(terminal, 'no terminal');
    const c = (await credentialsOf(grant.id)).credentials;
    const opts = terminal.creationOptions as vscode.TerminalOptions;
    for (const k of ['PGHOST', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGDATABASE']) assert.equal(opts.env?.[k], c[k], k);
    assert.match(terminal.name, /^Team database \(write\) — until \S/);
    assert.equal(opts.isTransient, true);
    await shellStarted(terminal, c.PGPASSWORD);
    // something the developer ran, whose output must stay readable
    terminal.sendText('echo "the output of my work"');
    await waitFor('the output in the terminal', async () => (await terminalText(terminal)).includes('the output of my work'), 10_000);

    const released = releaseOf(grant.id);
    await vscode.commands.executeCommand('elevate.relinquishGrant', grant.id, { confirm: false });
    assert.deepEqual(await within('the credentials let go of after relinquish', released, 10_000), { reason: 'relinquished', terminals: 1, clipboard: false });
    await credentialsEnded(terminal, c.PGPASSWORD);
    let text = '';
    await waitFor(
      'the end line',
      async () => /Access ended at \d.* — credentials removed\. This terminal is read-only now/.test((text = await terminalText(terminal))),
      10_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; the terminal shows: ${JSON.stringify(text.slice(-400))}`);
    });
    assert.ok(text.indexOf('the output of my work') < text.indexOf('Access ended at'), 'the earlier output is kept above the end line');
    terminal.dispose();
  });

  it('openTerminal_whenAnApproverRevokesTheGrant_itsCredentialsEnd', async () => {
    const grant = await pgGrant('read', 600);
    const terminal = await vscode.commands.executeCommand<vscode.Terminal>('elevate.openTerminal', grant.id);
    const { PGPASSWORD } = (await credentialsOf(grant.id)).credentials;
    await shellStarted(terminal, PGPASSWORD);
    await http('bob', 'POST', `/v1/grants/${grant.id}/revoke`, { reason: 'incident over' });
    // only the live event tells the editor: nothing here touched the model
    await credentialsEnded(terminal, PGPASSWORD);
  });

  it('openTerminal_atExpiry_itsCredentialsEnd_andTheEndIsAnnouncedOnce_asTheWarningSaid', async function () {
    this.timeout(120_000);
    // a 64 s grant gets the server's 1-minute warning 4 s in
    const grant = await pgGrant('read', 64);
    const notices = endNotices(grant.id);
    const warnings: string[] = [];
    const sub = api.onDidNotify((n) => n.kind === 'expiring' && n.key.includes(grant.id) && warnings.push(n.message));
    const terminal = await vscode.commands.executeCommand<vscode.Terminal>('elevate.openTerminal', grant.id);
    const { PGPASSWORD } = (await credentialsOf(grant.id)).credentials;
    await shellStarted(terminal, PGPASSWORD);
    await waitFor('the expiry warning', () => warnings.length > 0, 30_000);
    sub.dispose();
    // what the warning says will happen is what then happens
    assert.match(warnings[0], /^Your read access to Team database ends in 1 min \(.+\)\. Then its terminal's session ends \(the output stays readable\)\.$/);
    await credentialsEnded(terminal, PGPASSWORD, 90_000);
    assert.ok(Date.now() >= Date.parse(grant.expiresAt) - 1000, 'ended before the grant ended');
    await waitFor('the grant gone from the editor', () => !api.model.grant(grant.id));
    // whichever came first, the end time or the server's grant.expired: both have been seen now
    await waitFor('the expiry event', () => api.model.endedGrant(grant.id)?.status === 'expired');
    await waitFor('the end notice', () => notices.messages.length > 0);
    assert.deepEqual(notices.messages, ["Your read access to Team database has ended. Its terminal's session was ended (the output stays readable)."]);
    notices.dispose();
  });

  it('closingAGrantTerminal_beforeTheEnd_closesIt', async () => {
    const grant = await pgGrant('read', 600);
    const terminal = await vscode.commands.executeCommand<vscode.Terminal>('elevate.openTerminal', grant.id);
    const { PGPASSWORD } = (await credentialsOf(grant.id)).credentials;
    await shellStarted(terminal, PGPASSWORD);
    const gone = closed(terminal);
    // the user types exit: the terminal closes as any other would (nothing is kept open)
    terminal.sendText('exit');
    await within('the terminal to close after exit', gone, 10_000);
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
    after(async () => {
      await admin?.end().catch(() => undefined);
    });

    it('writeGrant_psqlInTheTerminalWritesARow_andAtExpiryTheTerminalsCredentialsEndTheLoginIsRefusedAndTheRoleIsGone', async () => {
      const grant = await pgGrant('write', 25);
      const terminal = await vscode.commands.executeCommand<vscode.Terminal>('elevate.openTerminal', grant.id);
      const creds = (await credentialsOf(grant.id)).credentials;
      assert.equal((await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [creds.PGUSER])).rowCount, 1);

      // what a developer types: psql reads PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE from the terminal
      const marker = `written from the editor terminal ${Date.now()}`;
      const sql = `INSERT INTO notes (body) VALUES ('${marker}')`;
      terminal.sendText(
        onPath('psql') ? `psql -v ON_ERROR_STOP=1 -c "${sql}"` : `node ${JSON.stringify(join(ROOT, 'test/extension/fixtures/pg-exec.cjs'))} "${sql}"`,
      );
      await waitFor(
        'the row written from the terminal',
        async () => (await admin.query('SELECT 1 FROM notes WHERE body = $1', [marker])).rowCount === 1,
        20_000,
      );

      await waitFor(
        "the terminal's credentials ended at expiry",
        async () => !(await processesOf(terminal, creds.PGPASSWORD)).some((p) => p.holdsSecret),
        40_000,
      );
      assert.ok(vscode.window.terminals.includes(terminal), 'the terminal stays open to be read');
      await waitFor(
        'the login role dropped',
        async () => (await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [creds.PGUSER])).rowCount === 0,
        20_000,
      );
      const login = new pg.Client({
        host: creds.PGHOST,
        port: Number(creds.PGPORT),
        user: creds.PGUSER,
        password: creds.PGPASSWORD,
        database: creds.PGDATABASE,
      });
      login.on('error', () => undefined);
      await assert.rejects(login.connect(), /password authentication failed|does not exist/);
      // what was written during the grant stays
      assert.equal((await admin.query('SELECT 1 FROM notes WHERE body = $1', [marker])).rowCount, 1);
    });
  });
});
