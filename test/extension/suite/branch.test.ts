/// <reference types="mocha" />
// Branch → ticket (issue 15, item 4) in a real VS Code: a real Git repository on a branch named
// fix/INC-4711-slow-orders, seen through the built-in Git extension; the Request Access flow opens
// with the ticket and justification filled in, and accepting every step as it is submits them.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as vscode from 'vscode';
import type { AccessRequest } from '../../../server/protocol';
import type { ElevateApi } from '../../../extension/extension';
import { cleanUp, SERVER, signedIn, TOKENS, waitFor, workspaceFolder } from './lib';

describe('Branch → ticket', function () {
  this.timeout(90_000);
  let api: ElevateApi;
  let dir = '';

  before(async function () {
    if (!SERVER || !TOKENS.alice) this.skip();
    api = await signedIn('alice');
    dir = workspaceFolder().fsPath;
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=Alice', '-c', 'user.email=alice@example.com', ...args], { cwd: dir, encoding: 'utf8' });
    git('init', '-q', '-b', 'main');
    git('commit', '-q', '--allow-empty', '-m', 'start');
    git('checkout', '-q', '-b', 'fix/INC-4711-slow-orders');
    const ext = vscode.extensions.getExtension<{ getAPI(v: 1): { openRepository(uri: vscode.Uri): Promise<unknown> } }>('vscode.git');
    assert.ok(ext, 'the built-in Git extension is there');
    const gitApi = (ext.isActive ? ext.exports : await ext.activate()).getAPI(1);
    await gitApi.openRepository(workspaceFolder());
    await waitFor('the branch seen through the Git extension', () => api.context.prefill()?.ticket === 'INC-4711', 30_000);
  });
  after(async () => {
    // back on a branch without a ticket, so no later suite gets one prefilled; the repository stays
    // (the workspace is a temporary directory): deleting .git under the Git extension's feet makes
    // it fail on the next file the suites open
    if (dir) execFileSync('git', ['checkout', '-q', 'main'], { cwd: dir });
    if (api) await waitFor('no ticket prefilled on main', () => api.context.prefill() === undefined, 30_000);
    if (TOKENS.alice) await cleanUp('alice');
  });

  it('prefill_isTheTicketAndTheRestOfTheBranchName', () => {
    assert.deepEqual(api.context.prefill(), { ticket: 'INC-4711', justification: 'INC-4711: fix slow orders' });
  });

  it('requestAccess_opensWithTicketAndJustificationPrefilled_acceptingEachStepSubmitsThem', async () => {
    // ticket-db requires a ticket: every step shows (duration, justification, ticket, confirm)
    let done = false;
    const flow = Promise.resolve(
      vscode.commands.executeCommand<{ request: AccessRequest } | undefined>('elevate.requestAccess', {
        resourceId: 'ticket-db',
        role: 'read',
        durationSeconds: 900,
      }),
    ).finally(() => {
      done = true;
    });
    // press Enter on whatever step is showing, as a user who changes nothing would
    for (let i = 0; !done && i < 150; i++) {
      await new Promise((r) => setTimeout(r, 300));
      if (!done) await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
    }
    const result = await flow;
    assert.ok(result, 'the flow submitted a request');
    assert.equal(result.request.justification, 'INC-4711: fix slow orders');
    assert.equal(result.request.ticket, 'INC-4711');
    assert.equal(result.request.status, 'approved');
  });

  it('ticketPatternEmpty_prefillsNothing', async () => {
    await vscode.workspace.getConfiguration('elevate').update('ticketPattern', '', vscode.ConfigurationTarget.Global);
    try {
      assert.equal(api.context.prefill(), undefined);
    } finally {
      await vscode.workspace.getConfiguration('elevate').update('ticketPattern', undefined, vscode.ConfigurationTarget.Global);
    }
  });
});
