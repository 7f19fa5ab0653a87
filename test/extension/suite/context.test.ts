/// <reference types="mocha" />
// Access where the work is (issue 15), in a real VS Code extension host against the real server:
// a command refused in a real terminal with shell integration becomes one notification, one click
// requests the access, and once granted Re-run runs the command again and it succeeds.
//  - curl refused by a web console on this machine that asks Elevate (/v1/check) whether the
//    caller holds auto-db read: approved at once, re-run in the same terminal.
//  - with ELEVATE_TEST_POSTGRES=1: psql refused by the real PostgreSQL, bob approves, re-run in a
//    terminal carrying the grant's login.
// The toasts' buttons are pressed through the notice's own action (what the button runs): the
// extension host cannot click; the two-editor e2e test clicks real ones.
import * as assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import * as vscode from 'vscode';
import type { AccessRequest } from '../../../server/protocol';
import type { ElevateApi } from '../../../extension/extension';
import type { Notice } from '../../../extension/views/notifier';
import { cleanUp, http, PG_URL, SERVER, signedIn, TOKENS, waitFor, watchingRequests, within } from './lib';

/** A bash terminal whose shell integration is active (VS Code injects it into bash). */
async function shellTerminal(name: string, env: Record<string, string> = {}): Promise<vscode.Terminal> {
  const terminal = vscode.window.createTerminal({ name, shellPath: '/bin/bash', env: { PAGER: 'cat', ...env } });
  await waitFor(`shell integration in terminal "${name}"`, () => terminal.shellIntegration, 30_000);
  return terminal;
}

/** Runs a command through shell integration; resolves to its exit code and output. */
function execute(terminal: vscode.Terminal, command: string): Promise<{ exitCode: number | undefined; output: string }> {
  return new Promise((resolve) => {
    let output = '';
    let reading: Promise<void> | undefined;
    const started = vscode.window.onDidStartTerminalShellExecution((e) => {
      if (e.terminal !== terminal) return;
      started.dispose();
      reading = (async () => {
        for await (const d of e.execution.read()) output += d;
      })();
    });
    const ended = vscode.window.onDidEndTerminalShellExecution(async (e) => {
      if (e.terminal !== terminal) return;
      ended.dispose();
      await reading;
      resolve({ exitCode: e.exitCode, output });
    });
    terminal.shellIntegration!.executeCommand(command);
  });
}

/** The next notice whose message matches. */
function nextNotice(api: ElevateApi, re: RegExp): Promise<Notice> {
  return new Promise((resolve) => {
    const sub = api.onDidNotify((n) => {
      if (!re.test(n.message)) return;
      sub.dispose();
      resolve(n);
    });
  });
}

describe('Permission denied → request', function () {
  this.timeout(120_000);
  let api: ElevateApi;
  const terminals: vscode.Terminal[] = [];

  before(async function () {
    if (!SERVER || !TOKENS.alice || !TOKENS.bob || !TOKENS.carol) this.skip();
    api = await signedIn('alice');
  });
  afterEach(async () => {
    for (const t of terminals.splice(0)) t.dispose();
    for (const t of vscode.window.terminals) if (/ — until /.test(t.name)) t.dispose();
    await vscode.workspace.getConfiguration('elevate').update('detectRefusals', undefined, vscode.ConfigurationTarget.Global);
    await cleanUp('alice');
    await waitFor('alice has nothing active', () => api.model.grants.length === 0 && api.model.myRequests.length === 0);
  });

  it('hintsFromThePolicy_reachTheEditor', () => {
    assert.deepEqual(api.model.resource('pg-db')?.hints, { hosts: ['127.0.0.1'], databases: ['app'] });
  });

  describe('curl refused by a console that asks Elevate', () => {
    let consoleServer: Server;
    let url = '';
    before(async () => {
      // a target system: serves /orders only to a caller Elevate says holds auto-db read
      consoleServer = createServer((req, res) => {
        void (async () => {
          const check = await http<{ allowed: boolean }>('carol', 'GET', '/v1/check?userId=alice&resourceId=auto-db&role=read');
          res.writeHead(check.allowed ? 200 : 403, { 'content-type': 'text/plain' });
          res.end(check.allowed ? 'orders: 42\n' : 'forbidden\n');
        })();
      });
      await new Promise<void>((r) => consoleServer.listen(0, '127.0.0.1', r));
      url = `http://localhost:${(consoleServer.address() as AddressInfo).port}/orders`;
    });
    after(() => {
      consoleServer?.close();
    });

    it('refusedCurl_oneNotice_oneClickIsAccessAtOnce_reRunSucceedsInTheSameTerminal_withoutAskingForCredentials', async () => {
      const terminal = await shellTerminal('refusals');
      terminals.push(terminal);
      const offered = nextNotice(api, /^curl was refused/);
      const refused = await execute(terminal, `curl -fsS ${url}`);
      assert.equal(refused.exitCode, 22, refused.output);
      const notice = await within('the refusal notice', offered, 15_000);
      assert.equal(notice.message, 'curl was refused with 403 Forbidden — Request read on Auto database?');
      assert.deepEqual(
        notice.actions?.map((a) => a.title),
        ['Request'],
      );

      // one click: the request is made and approved at once by policy
      const rerunOffered = nextNotice(api, /^Access to Auto database \(read\) granted until .* — re-run `curl -fsS /);
      const request = (await notice.actions![0].run()) as AccessRequest;
      assert.equal(request.status, 'approved');
      assert.equal(request.durationSeconds, 15 * 60);
      assert.equal(request.justification, `Refused in my terminal: \`curl -fsS ${url}\` (curl: (22) The requested URL returned error: 403)`);
      const rerun = await within('the re-run notice', rerunOffered, 15_000);
      assert.deepEqual(
        rerun.actions?.map((a) => a.title),
        ['Re-run'],
      );

      const again = new Promise<{ exitCode: number | undefined; output: string }>((resolve) => {
        let output = '';
        let reading: Promise<void> | undefined;
        const s = vscode.window.onDidStartTerminalShellExecution((e) => {
          if (e.terminal !== terminal) return;
          s.dispose();
          reading = (async () => {
            for await (const d of e.execution.read()) output += d;
          })();
        });
        const d = vscode.window.onDidEndTerminalShellExecution(async (e) => {
          if (e.terminal !== terminal) return;
          d.dispose();
          await reading;
          resolve({ exitCode: e.exitCode, output });
        });
      });
      const { result: target, urls } = await watchingRequests(() => rerun.actions![0].run());
      assert.equal(target, terminal, 'auto-db issues no credentials: the command runs again where it failed');
      assert.deepEqual(
        urls.filter((u) => u.endsWith('/credentials')),
        [],
        'auto-db has no provider: Re-run does not wait on asking for credentials',
      );
      const result = await within('the re-run to finish', again, 20_000);
      assert.equal(result.exitCode, 0, result.output);
      assert.match(result.output, /orders: 42/);
    });

    it('detectRefusalsOff_noNotice', async () => {
      const terminal = await shellTerminal('refusals off');
      terminals.push(terminal);
      const notices: Notice[] = [];
      const sub = api.onDidNotify((n) => /was refused/.test(n.message) && notices.push(n));
      await vscode.workspace.getConfiguration('elevate').update('detectRefusals', false, vscode.ConfigurationTarget.Global);
      assert.equal((await execute(terminal, `curl -fsS ${url}?off`)).exitCode, 22);
      await vscode.workspace.getConfiguration('elevate').update('detectRefusals', true, vscode.ConfigurationTarget.Global);
      // the same refusal once more with the setting on: its notice is the only one
      const on = nextNotice(api, /^curl was refused/);
      assert.equal((await execute(terminal, `curl -fsS ${url}?on`)).exitCode, 22);
      await within('the notice with the setting on', on, 15_000);
      sub.dispose();
      assert.equal(notices.length, 1);
    });
  });

  describe('psql refused by a real PostgreSQL (ELEVATE_TEST_POSTGRES=1)', () => {
    let admin: pg.Client;
    let port = '';
    const password = `own-${Date.now()}`;
    before(async function () {
      if (!PG_URL) this.skip();
      admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      port = new URL(PG_URL).port;
      // alice's own login: may connect, may not read notes
      await admin.query(`CREATE ROLE alice_own LOGIN PASSWORD '${password}'`);
    });
    after(async () => {
      await admin?.query('DROP ROLE IF EXISTS alice_own').catch(() => undefined);
      await admin?.end().catch(() => undefined);
    });

    it('refusedPsql_notice_request_approved_reRunInTheGrantsTerminalSucceeds', async () => {
      const terminal = await shellTerminal('psql', { PGHOST: '127.0.0.1', PGPORT: port, PGUSER: 'alice_own', PGPASSWORD: password });
      terminals.push(terminal);
      const command = 'psql -h 127.0.0.1 -d app -c "SELECT count(*) AS notes FROM notes"';
      const offered = nextNotice(api, /^psql was refused/);
      const refused = await execute(terminal, command);
      assert.notEqual(refused.exitCode, 0);
      assert.match(refused.output, /permission denied for table notes/);
      const notice = await within('the refusal notice', offered, 15_000);
      assert.equal(notice.message, 'psql was refused on table notes — Request read on Team database?');

      const request = (await notice.actions![0].run()) as AccessRequest;
      assert.equal(request.status, 'pending');
      assert.equal(request.resourceId, 'pg-db');
      assert.equal(request.role, 'read');
      assert.ok(request.justification.includes(command), request.justification);
      assert.ok(!request.justification.includes(password));

      const rerunOffered = nextNotice(api, /^Access to Team database \(read\) granted until/);
      await http('bob', 'POST', `/v1/requests/${request.id}/approve`, {});
      const rerun = await within('the re-run notice after the approval', rerunOffered, 20_000);
      assert.deepEqual(
        rerun.actions?.map((a) => a.title),
        ['Re-run'],
      );

      const ran = new Promise<{ terminal: vscode.Terminal; exitCode: number | undefined; output: string }>((resolve) => {
        let output = '';
        let reading: Promise<void> | undefined;
        const s = vscode.window.onDidStartTerminalShellExecution((e) => {
          if (!/^Team database \(read\) — until /.test(e.terminal.name)) return;
          s.dispose();
          reading = (async () => {
            for await (const d of e.execution.read()) output += d;
          })();
        });
        const d = vscode.window.onDidEndTerminalShellExecution(async (e) => {
          if (!/^Team database \(read\) — until /.test(e.terminal.name)) return;
          d.dispose();
          await reading;
          resolve({ terminal: e.terminal, exitCode: e.exitCode, output });
        });
      });
      const target = (await rerun.actions![0].run()) as vscode.Terminal;
      assert.notEqual(target, terminal, 'pg-db issues a login: the command runs again in a terminal that carries it');
      const result = await within('the re-run to finish', ran, 30_000);
      assert.equal(result.terminal, target);
      assert.equal(result.exitCode, 0, result.output);
      assert.match(result.output, /notes\s*\n-+\s*\n\s*\d+/);
    });
  });
});
