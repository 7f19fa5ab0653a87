/// <reference types="mocha" />
// The extension inside a real VS Code extension host, against the real Elevate server on loopback
// (started by test/extension/run.mjs with test/extension/fixtures/policy.yaml). Input boxes cannot be
// typed into here, so sign-in goes through the API object activate() returns, and commands get their
// answers as arguments (the same code path after the pickers). Timeouts are generous on purpose:
// latency is measured by benchmarks, not asserted here.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { AccessRequest, Grant } from '../../../server/protocol';
import type { ElevateApi } from '../../../extension/extension';
import { SERVER, TOKENS, cleanUp, http, waitFor } from './lib';

describe('Elevate against a live server', function () {
  this.timeout(60_000);
  let api: ElevateApi;

  before(async function () {
    if (!SERVER || !TOKENS.alice || !TOKENS.bob) this.skip();
    const ext = vscode.extensions.getExtension<ElevateApi>('elevate.elevate');
    assert.ok(ext, 'extension not installed');
    api = await ext.activate();
  });

  const signInAs = async (user: string) => {
    await api.signIn(SERVER, TOKENS[user]);
    await waitFor(`signed in as ${user}`, () => api.model.state === 'ready' && api.model.me?.id === user);
    // the live stream must be open for the "updates live" tests to mean anything
    await waitFor('event stream open', () => api.model.live === 'open');
  };

  describe('as alice (requester)', () => {
    before(async () => {
      await cleanUp('alice');
      await signInAs('alice');
    });
    afterEach(async () => {
      await cleanUp('alice');
      await waitFor('alice has nothing active', () => api.model.grants.length === 0 && api.model.myRequests.length === 0);
    });

    it('signIn_showsTheUserAndTheRequestableResources', async () => {
      assert.equal(api.model.me?.name, 'Alice Liddell');
      assert.equal(api.model.isApprover, false);
      const nodes = api.trees.resources.getChildren();
      const labels = nodes.map((n) => api.trees.resources.getTreeItem(n).label);
      assert.ok(labels.includes('Auto database') && labels.includes('Production database'), JSON.stringify(labels));
      const auto = nodes.find((n) => n.resource.id === 'auto-db')!;
      assert.equal(api.trees.resources.getTreeItem(auto).contextValue, 'resource');
    });

    it('requestAccess_autoApproved_showsTheGrantInMyAccessAndTheStatusBar', async () => {
      const result = (await vscode.commands.executeCommand('elevate.requestAccess', {
        resourceId: 'auto-db',
        role: 'read',
        durationSeconds: 900,
        justification: 'integration test: auto-approval',
      })) as { request: AccessRequest; grant?: Grant } | undefined;
      assert.ok(result?.grant, 'expected a grant at once');
      assert.equal(result.request.autoApproved, true);
      await waitFor('the grant in the model', () => api.model.grant(result.grant!.id));
      const items = api.trees.myAccess.getChildren().map((n) => api.trees.myAccess.getTreeItem(n));
      const item = items.find((i) => String(i.description).startsWith('Auto database'));
      assert.ok(item, `My Access shows: ${items.map((i) => `${i.label} ${i.description}`).join(', ')}`);
      assert.equal(item.contextValue, 'grant.active');
      // time left and role first, so a narrow sidebar still shows them
      assert.match(String(item.label), /^1[45] min left · read$/);
      const bar = await waitFor('status bar visible', () => api.statusBar.state?.visible && api.statusBar.state);
      assert.match(bar.text, /^\$\(shield\) Auto database read \d{1,2}:\d\d$/);
    });

    it('extendGrant_withinTheNoApprovalLimit_appliesAtOnce', async () => {
      const created = (await vscode.commands.executeCommand('elevate.requestAccess', {
        resourceId: 'auto-db',
        role: 'read',
        durationSeconds: 600,
        justification: 'integration test: extend',
      })) as { grant?: Grant };
      const grant = created.grant!;
      const result = (await vscode.commands.executeCommand('elevate.extendGrant', grant.id, { durationSeconds: 600 })) as { kind: string; grant?: Grant };
      assert.equal(result?.kind, 'applied');
      const extended = await waitFor('the model to show the new end', () => {
        const g = api.model.grant(grant.id);
        return g && Date.parse(g.expiresAt) > Date.parse(grant.expiresAt) && g;
      });
      assert.equal(Date.parse(extended.expiresAt) - Date.parse(grant.expiresAt), 600_000);
      assert.equal(extended.extensions, 1);
    });

    it('relinquishGrant_endsTheGrantAndHidesTheStatusBar', async () => {
      const created = (await vscode.commands.executeCommand('elevate.requestAccess', {
        resourceId: 'auto-db',
        role: 'read',
        durationSeconds: 600,
        justification: 'integration test: relinquish',
      })) as { grant?: Grant };
      await waitFor('status bar visible', () => api.statusBar.state?.visible);
      await vscode.commands.executeCommand('elevate.relinquishGrant', created.grant!.id, { confirm: false });
      await waitFor('the grant to leave the model', () => !api.model.grant(created.grant!.id));
      await waitFor('status bar hidden', () => api.statusBar.state?.visible === false);
      const { grant } = await http<{ grant: Grant }>('alice', 'GET', `/v1/grants/${created.grant!.id}`);
      assert.equal(grant.status, 'relinquished');
    });

    it('approvalByBob_reachesAlicesEditorLiveThroughTheEventStream', async () => {
      const created = (await vscode.commands.executeCommand('elevate.requestAccess', {
        resourceId: 'prod-db',
        role: 'read',
        durationSeconds: 3600,
        justification: 'integration test: approval',
      })) as { request: AccessRequest; grant?: Grant };
      assert.equal(created.request.status, 'pending');
      assert.equal(created.grant, undefined);
      await waitFor('the pending request in My Access', () => api.model.myRequests.some((r) => r.id === created.request.id));
      const pendingItem = api.trees.myAccess
        .getChildren()
        .map((n) => api.trees.myAccess.getTreeItem(n))
        .find((i) => i.contextValue === 'request.mine');
      assert.ok(pendingItem, 'pending request item');
      assert.match(String(pendingItem.description), /0 of 1/);

      assert.equal(api.model.live, 'open');
      await http('bob', 'POST', `/v1/requests/${created.request.id}/approve`, { comment: 'go ahead' });
      const grant = await waitFor('the approved grant to arrive over SSE', () => api.model.grants.find((g) => g.requestId === created.request.id));
      assert.equal(grant.resourceId, 'prod-db');
      assert.ok(!api.model.myRequests.some((r) => r.id === created.request.id), 'no longer pending');
      await waitFor('status bar shows prod-db', () => api.statusBar.state?.text.includes('Production database read'));
    });

    it('denialByBob_removesThePendingRequestLive', async () => {
      const created = (await vscode.commands.executeCommand('elevate.requestAccess', {
        resourceId: 'prod-db',
        role: 'write',
        durationSeconds: 1800,
        justification: 'integration test: denial',
      })) as { request: AccessRequest };
      await waitFor('pending', () => api.model.myRequests.some((r) => r.id === created.request.id));
      await http('bob', 'POST', `/v1/requests/${created.request.id}/deny`, { reason: 'not today' });
      await waitFor('the request to leave My Access', () => !api.model.myRequests.some((r) => r.id === created.request.id));
      assert.equal(api.model.grants.length, 0);
    });

    it('requestAccess_overMaxDuration_isRefusedWithoutCreatingAnything', async () => {
      const result = await vscode.commands.executeCommand('elevate.requestAccess', {
        resourceId: 'auto-db',
        role: 'read',
        durationSeconds: 3 * 3600,
        justification: 'too long',
      });
      assert.equal(result, undefined, 'the command reports the error instead of returning a result');
      const { requests } = await http<{ requests: AccessRequest[] }>('alice', 'GET', '/v1/requests?scope=mine&status=pending');
      assert.equal(requests.length, 0);
      assert.equal(api.model.grants.length, 0);
    });
  });

  describe('policy rules seen from the editor', () => {
    before(async () => {
      await cleanUp('alice');
      await signInAs('alice');
    });
    afterEach(async () => {
      await cleanUp('alice');
    });

    it('breakGlass_grantsAtOnceAndIsFlagged', async () => {
      const result = (await vscode.commands.executeCommand('elevate.requestAccess', {
        resourceId: 'glass-db',
        role: 'admin',
        durationSeconds: 900,
        justification: 'integration test: outage',
        breakGlass: true,
      })) as { request: AccessRequest; grant?: Grant };
      assert.ok(result?.grant, 'break-glass grants at once');
      assert.equal(result.request.breakGlass, true);
      await waitFor('the grant in the model', () => api.model.grant(result.grant!.id));
      const glass = api.trees.resources.getChildren().find((n) => n.resource.id === 'glass-db')!;
      assert.equal(api.trees.resources.getTreeItem(glass).contextValue, 'resource.breakGlass');
    });

    it('ticketRequired_withoutTicket_isRefused_withTicket_isGranted', async () => {
      const refused = await vscode.commands.executeCommand('elevate.requestAccess', {
        resourceId: 'ticket-db',
        role: 'read',
        durationSeconds: 900,
        justification: 'integration test: no ticket',
      });
      assert.equal(refused, undefined);
      const granted = (await vscode.commands.executeCommand('elevate.requestAccess', {
        resourceId: 'ticket-db',
        role: 'read',
        durationSeconds: 900,
        justification: 'integration test: ticket',
        ticket: 'OPS-1',
      })) as { request: AccessRequest; grant?: Grant };
      assert.equal(granted?.request.ticket, 'OPS-1');
      assert.ok(granted.grant);
    });

    it('extendGrant_pastTheNoApprovalLimit_becomesARequestShownAsPending', async () => {
      const created = (await vscode.commands.executeCommand('elevate.requestAccess', {
        resourceId: 'auto-db',
        role: 'read',
        durationSeconds: 600,
        justification: 'integration test: long extension',
      })) as { grant?: Grant };
      const result = (await vscode.commands.executeCommand('elevate.extendGrant', created.grant!.id, {
        durationSeconds: 3600,
        justification: 'need an hour more',
      })) as { kind: string; request?: AccessRequest };
      assert.equal(result?.kind, 'pending');
      await waitFor('the pending extension in the model', () => api.model.pendingExtensionOf(created.grant!.id));
      const item = api.trees.myAccess
        .getChildren()
        .map((n) => api.trees.myAccess.getTreeItem(n))
        .find((i) => i.contextValue === 'grant.active');
      assert.match(String(item?.description), /extension pending/);
    });
  });

  describe('as bob (approver)', () => {
    before(async () => {
      await cleanUp('alice');
      await signInAs('bob');
    });
    after(async () => {
      await cleanUp('alice');
    });

    it('approver_seesAlicesNewRequestInApprovalsLive_andApprovesItFromTheEditor', async () => {
      assert.equal(api.model.isApprover, true);
      const { request } = await http<{ request: AccessRequest }>('alice', 'POST', '/v1/requests', {
        resourceId: 'prod-db',
        role: 'read',
        durationSeconds: 1800,
        justification: 'please review: integration test',
      });
      await waitFor('the request in Approvals', () => api.model.reviewable.some((r) => r.id === request.id));
      const items = api.trees.approvals.getChildren().map((n) => api.trees.approvals.getTreeItem(n));
      const item = items.find((i) => String(i.label).startsWith('alice'));
      assert.ok(item, `Approvals shows: ${items.map((i) => i.label).join(', ')}`);
      assert.equal(item.contextValue, 'request.reviewable');

      await vscode.commands.executeCommand('elevate.approveRequest', request.id, { comment: 'approved in the editor' });
      await waitFor('the request to leave Approvals', () => !api.model.reviewable.some((r) => r.id === request.id));
      const after = await http<{ request: AccessRequest }>('alice', 'GET', `/v1/requests/${request.id}`);
      assert.equal(after.request.status, 'approved');
      assert.equal(after.request.approvals[0]?.approverId, 'bob');
    });

    it('selfApproval_isNotPossible_becauseOwnRequestsNeverAppearInApprovals', async () => {
      const { request } = await http<{ request: AccessRequest }>('bob', 'POST', '/v1/requests', {
        resourceId: 'prod-db',
        role: 'read',
        durationSeconds: 600,
        justification: 'my own',
      }).catch(() => ({ request: undefined as unknown as AccessRequest }));
      if (!request) return; // the server refused outright (no other approver): nothing to review either
      await waitFor('bob sees his own request as his', () => api.model.myRequests.some((r) => r.id === request.id));
      assert.ok(!api.model.reviewable.some((r) => r.id === request.id));
      await http('bob', 'POST', `/v1/requests/${request.id}/cancel`, {});
    });
  });

  describe('signing in and out', () => {
    it('signIn_withAWrongToken_isRefusedAndKeepsTheCurrentSession', async () => {
      await signInAs('alice');
      await assert.rejects(api.signIn(SERVER, 'not-a-real-token'), (e: Error) => /token|auth|401/i.test(e.message));
      assert.equal(api.model.me?.id, 'alice');
    });

    it('signOut_returnsToTheSignedOutWelcomeState', async () => {
      await signInAs('alice');
      await vscode.commands.executeCommand('elevate.signOut');
      await waitFor('signed out', () => api.model.state === 'signedOut');
      assert.deepEqual(api.trees.myAccess.getChildren(), []);
      assert.equal(api.statusBar.state?.visible ?? false, false);
      // signing in again works from the stored nothing
      await signInAs('alice');
    });
  });
});
