/// <reference types="mocha" />
// Tasks and terminals that hold access for their lifetime (issue 15, item 5), in a real VS Code
// against the real server: an `elevate` task waits for the approver, runs a real command with the
// grant's credentials in that command's environment only and gives the grant back when it ends;
// a task with "keep" keeps it and the next run reuses it; closing a grant's
// terminal offers to give the grant back.
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import * as vscode from 'vscode';
import type { AccessRequest, CredentialsResponse, Grant } from '../../../server/protocol';
import type { ElevateApi } from '../../../extension/extension';
import type { TaskRun } from '../../../extension/context/tasks';
import type { Notice } from '../../../extension/views/notifier';
import { cleanUp, http, PG_URL, SERVER, signedIn, TOKENS, waitFor, watchingRequests, within, workspaceFolder } from './lib';

describe('Elevate tasks', function () {
  this.timeout(90_000);
  let api: ElevateApi;

  before(async function () {
    if (!SERVER || !TOKENS.alice || !TOKENS.bob) this.skip();
    api = await signedIn('alice');
  });
  afterEach(async () => {
    await cleanUp('alice');
    await waitFor('alice has nothing active', () => api.model.grants.length === 0 && api.model.myRequests.length === 0);
  });

  const nextRun = () =>
    new Promise<TaskRun>((resolve) => {
      const sub = api.context.tasks.onDidEnd((r) => {
        sub.dispose();
        resolve(r);
      });
    });

  it('task_waitsForTheApprover_runsTheCommandWithTheGrantsCredentials_andGivesTheGrantBack', async () => {
    const out = join(tmpdir(), `elevate-task-${Date.now()}.json`);
    const lines: string[] = [];
    const sub = api.context.tasks.onDidWrite((l) => lines.push(l));
    const ended = nextRun();
    const task = api.context.tasks.create(
      {
        type: 'elevate',
        resource: 'pg-db',
        role: 'write',
        duration: '10m',
        // a real command: records the PG* variables it was given, then lingers so the test can read the grant's credentials
        command: `node -e "require('fs').writeFileSync(process.argv[1], JSON.stringify({ user: process.env.PGUSER, password: process.env.PGPASSWORD, db: process.env.PGDATABASE })); setTimeout(() => {}, 1500)" ${JSON.stringify(out)}`,
      },
      vscode.TaskScope.Workspace,
      'migrate',
    );
    await vscode.tasks.executeTask(task);

    // the approver decides while the task terminal waits
    const request = await waitFor("the task's request", async () =>
      (await http<{ requests: AccessRequest[] }>('alice', 'GET', '/v1/requests?scope=mine&status=pending')).requests.find((r) => r.resourceId === 'pg-db'),
    );
    assert.match(request.justification, /^Task: node -e /);
    assert.equal(request.durationSeconds, 600);
    await waitFor(`the waiting line in ${JSON.stringify(lines)}`, () => lines.some((l) => /waiting for approval by group dba \(0 of 1\)/.test(l)));
    const { grant } = await http<{ grant: Grant }>('bob', 'POST', `/v1/requests/${request.id}/approve`, {});
    const credentialsDuringTheRun = await waitFor("the grant's credentials", () =>
      http<CredentialsResponse>('alice', 'GET', `/v1/grants/${grant.id}/credentials`).catch(() => undefined),
    );

    const run = await within('the task to end', ended, 40_000);
    sub.dispose();
    assert.deepEqual(
      { grantId: run.grantId, exitCode: run.exitCode, relinquished: run.relinquished, reused: run.reused },
      { grantId: grant.id, exitCode: 0, relinquished: true, reused: undefined },
    );
    const seen = JSON.parse(readFileSync(out, 'utf8'));
    rmSync(out, { force: true });
    assert.deepEqual(seen, { user: credentialsDuringTheRun.credentials.PGUSER, password: credentialsDuringTheRun.credentials.PGPASSWORD, db: 'app' });
    assert.equal(process.env.PGPASSWORD, undefined, "the editor's own environment never holds them");
    assert.ok(!lines.join('\n').includes(credentialsDuringTheRun.credentials.PGPASSWORD), 'the task terminal never shows the password');
    const after = await http<{ grant: Grant }>('alice', 'GET', `/v1/grants/${grant.id}`);
    assert.equal(after.grant.status, 'relinquished');
    assert.match(lines.at(-1) ?? '', /the command ended \(exit 0\); your write access to Team database was given back/);
  });

  it('taskWithKeep_keepsTheGrant_andTheNextRunReusesIt_withoutAskingForCredentials', async () => {
    const task = api.context.tasks.create(
      { type: 'elevate', resource: 'auto-db', role: 'read', duration: '15m', command: 'echo report done', keep: true },
      vscode.TaskScope.Workspace,
      'report',
    );
    let ended = nextRun();
    const { result: first, urls } = await watchingRequests(async () => {
      await vscode.tasks.executeTask(task);
      return within('the first run', ended, 30_000);
    });
    assert.deepEqual([first.exitCode, first.relinquished, first.reused], [0, undefined, undefined]);
    assert.deepEqual(
      urls.filter((u) => u.endsWith('/credentials')),
      [],
      'auto-db has no provider: the task does not wait on asking for credentials',
    );
    assert.ok(api.model.grant(first.grantId!), 'kept');

    ended = nextRun();
    await vscode.tasks.executeTask(task);
    const second = await within('the second run', ended, 30_000);
    assert.deepEqual([second.grantId, second.reused, second.relinquished], [first.grantId, true, undefined]);
  });

  it('taskFromTasksJson_isFetched_runsPsqlWithTheGrantsLogin_andGivesTheGrantBack', async function () {
    if (!PG_URL) this.skip();
    const out = join(tmpdir(), `elevate-tasksjson-${Date.now()}.txt`);
    const tasksJson = vscode.Uri.joinPath(workspaceFolder(), '.vscode/tasks.json');
    // as a user writes it: the task names what it needs, the command knows nothing of Elevate
    await vscode.workspace.fs.writeFile(
      tasksJson,
      new TextEncoder().encode(
        JSON.stringify(
          {
            version: '2.0.0',
            tasks: [
              {
                label: 'count notes',
                type: 'elevate',
                resource: 'pg-db',
                role: 'read',
                duration: '10m',
                command: `psql -v ON_ERROR_STOP=1 -tAc "SELECT current_user || ' ' || count(*) FROM notes" > ${JSON.stringify(out)}`,
              },
            ],
          },
          null,
          2,
        ),
      ),
    );
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      const task = await waitFor(
        'the task from tasks.json',
        async () => (await vscode.tasks.fetchTasks({ type: 'elevate' })).find((t) => t.name === 'count notes'),
        30_000,
      );
      assert.equal(task.definition.resource, 'pg-db');
      const ended = nextRun();
      await vscode.tasks.executeTask(task);

      const request = await waitFor("the task's request", async () =>
        (await http<{ requests: AccessRequest[] }>('alice', 'GET', '/v1/requests?scope=mine&status=pending')).requests.find((r) => r.resourceId === 'pg-db'),
      );
      assert.deepEqual([request.role, request.durationSeconds], ['read', 600]);
      const { grant } = await http<{ grant: Grant }>('bob', 'POST', `/v1/requests/${request.id}/approve`, {});

      const run = await within('the task to end', ended, 40_000);
      assert.deepEqual([run.grantId, run.exitCode, run.relinquished], [grant.id, 0, true]);
      // psql logged in as the grant's own PostgreSQL role (the postgres provider names it after the grant)
      const login = `elevate_alice_${createHash('sha256').update(grant.id).digest('hex').slice(0, 16)}`;
      assert.match(readFileSync(out, 'utf8').trim(), new RegExp(`^${login} \\d+$`));
      assert.equal((await http<{ grant: Grant }>('alice', 'GET', `/v1/grants/${grant.id}`)).grant.status, 'relinquished');
      // the provider takes the login away just after the grant ends
      await waitFor(
        `${login} to lose its login`,
        async () => (await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1 AND rolcanlogin', [login])).rowCount === 0,
      );
    } finally {
      rmSync(out, { force: true });
      await admin.end();
      await vscode.workspace.fs.delete(tasksJson).then(undefined, () => undefined);
    }
  });

  it('closingAGrantsTerminal_offersToGiveTheGrantBack', async () => {
    const { request } = await http<{ request: AccessRequest }>('alice', 'POST', '/v1/requests', {
      resourceId: 'pg-db',
      role: 'read',
      durationSeconds: 600,
      justification: 'give back test',
    });
    const { grant } = await http<{ grant: Grant }>('bob', 'POST', `/v1/requests/${request.id}/approve`, {});
    await waitFor('the grant in the editor', () => api.model.grant(grant.id));
    const terminal = await vscode.commands.executeCommand<vscode.Terminal>('elevate.openTerminal', grant.id);
    assert.ok(terminal);
    const offered = new Promise<Notice>((resolve) => {
      const sub = api.onDidNotify((n) => {
        if (/^You closed the terminal/.test(n.message)) {
          sub.dispose();
          resolve(n);
        }
      });
    });
    terminal.dispose();
    const notice = await within('the give-back offer', offered, 10_000);
    assert.equal(notice.message, 'You closed the terminal with your read access to Team database. Give the access back now?');
    await notice.actions![0].run();
    await waitFor('the grant given back', async () => (await http<{ grant: Grant }>('alice', 'GET', `/v1/grants/${grant.id}`)).grant.status === 'relinquished');
  });
});
