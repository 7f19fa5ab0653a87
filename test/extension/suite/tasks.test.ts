/// <reference types="mocha" />
// Tasks and terminals that hold access for their lifetime (issue 15, item 5), in a real VS Code
// against the real server: an `elevate` task waits for the approver, runs a real command with the
// grant's credentials in that command's environment only and gives the grant back when it ends;
// a task with "keep" keeps it and the next run reuses it; closing a grant's
// terminal offers to give the grant back.
import * as assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { AccessRequest, CredentialsResponse, Grant } from '../../../server/protocol';
import type { ElevateApi } from '../../../extension/extension';
import type { TaskRun } from '../../../extension/context/tasks';
import type { Notice } from '../../../extension/views/notifier';
import { cleanUp, http, SERVER, signedIn, TOKENS, waitFor, within } from './lib';

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

  const nextRun = () => new Promise<TaskRun>((resolve) => {
    const sub = api.context.tasks.onDidEnd((r) => { sub.dispose(); resolve(r); });
  });

  it('task_waitsForTheApprover_runsTheCommandWithTheGrantsCredentials_andGivesTheGrantBack', async () => {
    const out = join(tmpdir(), `elevate-task-${Date.now()}.json`);
    const lines: string[] = [];
    const sub = api.context.tasks.onDidWrite((l) => lines.push(l));
    const ended = nextRun();
    const task = api.context.tasks.create({
      type: 'elevate', resource: 'pg-db', role: 'write', duration: '10m',
      // a real command: records the PG* variables it was given, then lingers so the test can read the grant's credentials
      command: `node -e "require('fs').writeFileSync(process.argv[1], JSON.stringify({ user: process.env.PGUSER, password: process.env.PGPASSWORD, db: process.env.PGDATABASE })); setTimeout(() => {}, 1500)" ${JSON.stringify(out)}`,
    }, vscode.TaskScope.Workspace, 'migrate');
    await vscode.tasks.executeTask(task);

    // the approver decides while the task terminal waits
    const request = await waitFor('the task\'s request', async () =>
      (await http<{ requests: AccessRequest[] }>('alice', 'GET', '/v1/requests?scope=mine&status=pending')).requests.find((r) => r.resourceId === 'pg-db'));
    assert.match(request.justification, /^Task: node -e /);
    assert.equal(request.durationSeconds, 600);
    await waitFor(`the waiting line in ${JSON.stringify(lines)}`, () => lines.some((l) => /waiting for approval by group dba \(0 of 1\)/.test(l)));
    const { grant } = await http<{ grant: Grant }>('bob', 'POST', `/v1/requests/${request.id}/approve`, {});
    const credentialsDuringTheRun = await waitFor('the grant\'s credentials', () => http<CredentialsResponse>('alice', 'GET', `/v1/grants/${grant.id}/credentials`).catch(() => undefined));

    const run = await within('the task to end', ended, 40_000);
    sub.dispose();
    assert.deepEqual({ grantId: run.grantId, exitCode: run.exitCode, relinquished: run.relinquished, reused: run.reused }, { grantId: grant.id, exitCode: 0, relinquished: true, reused: undefined });
    const seen = JSON.parse(readFileSync(out, 'utf8'));
    rmSync(out, { force: true });
    assert.deepEqual(seen, { user: credentialsDuringTheRun.credentials.PGUSER, password: credentialsDuringTheRun.credentials.PGPASSWORD, db: 'app' });
    assert.equal(process.env.PGPASSWORD, undefined, 'the editor\'s own environment never holds them');
    assert.ok(!lines.join('\n').includes(credentialsDuringTheRun.credentials.PGPASSWORD), 'the task terminal never shows the password');
    const after = await http<{ grant: Grant }>('alice', 'GET', `/v1/grants/${grant.id}`);
    assert.equal(after.grant.status, 'relinquished');
    assert.match(lines.at(-1) ?? '', /the command ended \(exit 0\); your write access to Team database was given back/);
  });

  it('taskWithKeep_keepsTheGrant_andTheNextRunReusesIt', async () => {
    const task = api.context.tasks.create({ type: 'elevate', resource: 'auto-db', role: 'read', duration: '15m', command: 'echo report done', keep: true }, vscode.TaskScope.Workspace, 'report');
    let ended = nextRun();
    await vscode.tasks.executeTask(task);
    const first = await within('the first run', ended, 30_000);
    assert.deepEqual([first.exitCode, first.relinquished, first.reused], [0, undefined, undefined]);
    assert.ok(api.model.grant(first.grantId!), 'kept');

    ended = nextRun();
    await vscode.tasks.executeTask(task);
    const second = await within('the second run', ended, 30_000);
    assert.deepEqual([second.grantId, second.reused, second.relinquished], [first.grantId, true, undefined]);
  });

  it('closingAGrantsTerminal_offersToGiveTheGrantBack', async () => {
    const { request } = await http<{ request: AccessRequest }>('alice', 'POST', '/v1/requests', { resourceId: 'pg-db', role: 'read', durationSeconds: 600, justification: 'give back test' });
    const { grant } = await http<{ grant: Grant }>('bob', 'POST', `/v1/requests/${request.id}/approve`, {});
    await waitFor('the grant in the editor', () => api.model.grant(grant.id));
    const terminal = await vscode.commands.executeCommand<vscode.Terminal>('elevate.openTerminal', grant.id);
    assert.ok(terminal);
    const offered = new Promise<Notice>((resolve) => {
      const sub = api.onDidNotify((n) => { if (/^You closed the terminal/.test(n.message)) { sub.dispose(); resolve(n); } });
    });
    terminal.dispose();
    const notice = await within('the give-back offer', offered, 10_000);
    assert.equal(notice.message, 'You closed the terminal with your read access to Team database. Give the access back now?');
    await notice.actions![0].run();
    await waitFor('the grant given back', async () => (await http<{ grant: Grant }>('alice', 'GET', `/v1/grants/${grant.id}`)).grant.status === 'relinquished');
  });
});
