/// <reference types="mocha" />
// Notifications tell the truth, once (issue 16 §1), in the real extension host against the real
// server: after each change of a request or grant (approved or denied elsewhere, cancelled,
// relinquished, provisioning failed) no notification that offers an action about the old state
// stays open, and one event is told by one notification.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { AccessRequest, Grant } from '../../../server/protocol';
import type { ElevateApi } from '../../../extension/extension';
import { roleChoices } from '../../../extension/model/choices';
import { cleanUp, http, SERVER, TOKENS, waitFor } from './lib';

describe('Notifications tell the truth, once', function () {
  this.timeout(90_000);
  let api: ElevateApi;
  /** the notices shown in this window since the test began, as "kind: message" */
  let shown: { key: string; kind: string; message: string }[] = [];
  let sub: vscode.Disposable | undefined;

  before(async function () {
    if (!SERVER || !TOKENS.alice || !TOKENS.bob) this.skip();
    const ext = vscode.extensions.getExtension<ElevateApi>('elevate.elevate');
    assert.ok(ext, 'extension not installed');
    api = await ext.activate();
  });
  beforeEach(() => {
    shown = [];
    sub = api.onDidShowNotice((n) => shown.push({ key: n.key, kind: n.kind, message: n.message }));
  });
  afterEach(async () => {
    sub?.dispose();
    await cleanUp('alice');
    await cleanUp('bob');
  });

  const signInAs = async (user: string) => {
    await api.signIn(SERVER, TOKENS[user]);
    await waitFor(`signed in as ${user}`, () => api.model.state === 'ready' && api.model.me?.id === user);
    await waitFor('event stream open', () => api.model.live === 'open');
  };
  const openAbout = (id: string) => api.openNotices().filter((n) => n.key.includes(id));

  describe('as alice (requester)', () => {
    before(async () => signInAs('alice'));

    it('waiting_namesTheRequest_andClosesWhenApprovedElsewhere_thenOneApprovalWithTheComment', async () => {
      const { request } = (await vscode.commands.executeCommand('elevate.requestAccess', {
        resourceId: 'prod-db',
        role: 'read',
        durationSeconds: 3600,
        justification: 'notifications: approval',
      })) as { request: AccessRequest };
      const waiting = await waitFor('the waiting notice', () => openAbout(request.id).find((n) => n.kind === 'waiting'));
      assert.match(waiting.message, /Waiting for approval: Production database \(read\) for 1h — 0 of 1 approvals, by group dba/);
      assert.deepEqual(waiting.actions, ['Show Request', 'Copy Link for Approver', 'Cancel Request']);

      await http('bob', 'POST', `/v1/requests/${request.id}/approve`, { comment: 'read only please' });
      await waitFor('the grant', () => api.model.grants.some((g) => g.requestId === request.id));
      await waitFor('the waiting notice to close', () => openAbout(request.id).length === 0);
      await waitFor('the approval notice', () => shown.some((n) => n.kind === 'approved'));
      const told = shown.filter((n) => n.key.includes(request.id));
      assert.deepEqual(
        told.map((n) => n.kind),
        ['waiting', 'approved'],
      );
      assert.match(told[1].message, /^Access to Production database \(read\) approved by bob — granted until .+ — bob: “read only please”$/);
    });

    it('waiting_closesWhenDenied_andTheDenialIsToldOnce', async () => {
      const { request } = (await vscode.commands.executeCommand('elevate.requestAccess', {
        resourceId: 'prod-db',
        role: 'write',
        durationSeconds: 1800,
        justification: 'notifications: denial',
      })) as { request: AccessRequest };
      await waitFor('the waiting notice', () => openAbout(request.id).length === 1);
      await http('bob', 'POST', `/v1/requests/${request.id}/deny`, { reason: 'not today' });
      await waitFor('the waiting notice to close', () => openAbout(request.id).length === 0);
      await waitFor('the denial', () => shown.some((n) => n.kind === 'denied'));
      assert.deepEqual(
        shown.filter((n) => n.key.includes(request.id)).map((n) => n.message),
        [
          'Waiting for approval: Production database (write) for 30m — 0 of 1 approvals, by group dba.',
          'Your request for Production database (write) was denied by bob: not today',
        ],
      );
    });

    it('waiting_closesWhenCancelled', async () => {
      const { request } = (await vscode.commands.executeCommand('elevate.requestAccess', {
        resourceId: 'prod-db',
        role: 'read',
        durationSeconds: 900,
        justification: 'notifications: cancel',
      })) as { request: AccessRequest };
      await waitFor('the waiting notice', () => openAbout(request.id).length === 1);
      await vscode.commands.executeCommand('elevate.cancelRequest', request.id, { confirm: false });
      await waitFor('the waiting notice to close', () => openAbout(request.id).length === 0);
    });

    it('autoApproved_isToldByOneNotification', async () => {
      const { request, grant } = (await vscode.commands.executeCommand('elevate.requestAccess', {
        resourceId: 'auto-db',
        role: 'read',
        durationSeconds: 900,
        justification: 'notifications: auto',
      })) as { request: AccessRequest; grant: Grant };
      assert.ok(grant);
      // the live events for the same approval arrive too; give them the time to (not) notify
      await waitFor('the grant.activated event to be applied', () => api.model.grant(grant.id));
      await new Promise((r) => setTimeout(r, 1500));
      const told = shown.filter((n) => n.key.includes(request.id) || n.key.includes(grant.id));
      assert.deepEqual(
        told.map((n) => n.kind),
        ['approved'],
      );
      assert.match(told[0].message, /^Access to Auto database \(read\) approved by policy — granted until /);
      assert.equal(openAbout(grant.id).length, 0, 'an outcome leaves nothing to close');
    });

    it('expiring_extendByTheAtOnceLength_inOneClick_thenTheWarningCloses', async function () {
      this.timeout(120_000);
      // a 90 s grant gets the server's 1-minute warning 30 s in
      const { grant } = (await vscode.commands.executeCommand('elevate.requestAccess', {
        resourceId: 'auto-db',
        role: 'read',
        durationSeconds: 90,
        justification: 'notifications: expiring',
      })) as { grant: Grant };
      const warning = await waitFor('the expiry warning', () => openAbout(grant.id).find((n) => n.kind === 'expiring'), 60_000);
      assert.match(warning.message, /^Your read access to Auto database ends in 1 min/);
      assert.deepEqual(warning.actions, ['Extend by 30m', 'Other…']);
      // what clicking its first link does
      await vscode.commands.executeCommand('elevate.noticeAction', warning.id, 0);
      const extended = await waitFor('the grant extended by 30m', () => {
        const g = api.model.grant(grant.id);
        return g && Date.parse(g.expiresAt) - Date.parse(grant.expiresAt) === 1800_000 && g;
      });
      assert.equal(extended.extensions, 1);
      await waitFor('the warning to close', () => openAbout(grant.id).length === 0);
    });

    it('mutedKind_isNotShown_andEverythingElseStillIs', async () => {
      const config = vscode.workspace.getConfiguration('elevate');
      await config.update('notifications.muted', ['waiting'], vscode.ConfigurationTarget.Global);
      try {
        const { request } = (await vscode.commands.executeCommand('elevate.requestAccess', {
          resourceId: 'prod-db',
          role: 'read',
          durationSeconds: 900,
          justification: 'notifications: muted',
        })) as { request: AccessRequest };
        await http('bob', 'POST', `/v1/requests/${request.id}/deny`, { reason: 'muted test' });
        await waitFor('the denial', () => shown.some((n) => n.kind === 'denied'));
        assert.deepEqual(
          shown.filter((n) => n.key.includes(request.id)).map((n) => n.kind),
          ['denied'],
        );
      } finally {
        await config.update('notifications.muted', undefined, vscode.ConfigurationTarget.Global);
      }
    });

    it('copyLinkForApprover_copiesAVscodeLinkToTheRequest_andCopyIdItsId', async () => {
      const { request } = (await vscode.commands.executeCommand('elevate.requestAccess', {
        resourceId: 'prod-db',
        role: 'read',
        durationSeconds: 900,
        justification: 'notifications: link',
      })) as { request: AccessRequest };
      const link = await vscode.commands.executeCommand('elevate.copyRequestLink', request.id);
      assert.equal(link, `${vscode.env.uriScheme}://elevate.elevate/request?id=${encodeURIComponent(request.id)}`);
      assert.equal(await vscode.env.clipboard.readText(), link);
      await vscode.commands.executeCommand('elevate.copyId', { kind: 'request', id: `request:${request.id}`, request });
      assert.equal(await vscode.env.clipboard.readText(), request.id);
    });

    it('signedOutByTheServer_saysSoWithSignIn_keepsTheGrantInView_andClosesOnceSignedInAgain', async () => {
      const { grant } = (await vscode.commands.executeCommand('elevate.requestAccess', {
        resourceId: 'auto-db',
        role: 'read',
        durationSeconds: 900,
        justification: 'notifications: signed out',
      })) as { grant: Grant };
      await waitFor('status bar visible', () => api.statusBar.state?.visible);
      // what the model does when the server answers 401 (token revoked or expired)
      api.model.signOut('the token was revoked');
      const note = await waitFor('the signed-out notice', () => api.openNotices().find((n) => n.kind === 'signedOut'));
      assert.match(note.message, /^Elevate signed you out: the token was revoked\. Access you hold keeps running on the server until it ends\.$/);
      assert.deepEqual(note.actions, ['Sign In']);
      // the access itself still runs on the server: it stays in view
      assert.equal(api.statusBar.state?.visible, true);
      const rows = api.trees.myAccess.getChildren().map((n) => api.trees.myAccess.getTreeItem(n));
      assert.match(String(rows[0]?.label), /^Signed out — this access still runs on the server$/);
      assert.ok(
        rows.some((i) => String(i.description).startsWith('Auto database')),
        rows.map((i) => i.label).join(', '),
      );
      await signInAs('alice');
      await waitFor('the notice to close', () => !api.openNotices().some((n) => n.kind === 'signedOut'));
      assert.ok(api.model.grant(grant.id));
    });

    it('deniedExtension_saysTheExtensionWasDenied_andWhenTheAccessStillEnds', async () => {
      const { grant } = (await vscode.commands.executeCommand('elevate.requestAccess', {
        resourceId: 'auto-db',
        role: 'read',
        durationSeconds: 600,
        justification: 'notifications: extension',
      })) as { grant: Grant };
      const result = (await vscode.commands.executeCommand('elevate.extendGrant', grant.id, { durationSeconds: 3600, justification: 'need an hour more' })) as {
        kind: string;
        request: AccessRequest;
      };
      assert.equal(result.kind, 'pending');
      const waiting = await waitFor('the waiting notice', () => openAbout(result.request.id).find((n) => n.kind === 'waiting'));
      assert.match(waiting.message, /^Waiting for approval: Extend Auto database \(read\) by 1h — 0 of 1 approvals, by group dba\.$/);
      await http('bob', 'POST', `/v1/requests/${result.request.id}/deny`, { reason: 'wrap up' });
      await waitFor('the denial', () => shown.some((n) => n.kind === 'denied'));
      await waitFor('the waiting notice to close', () => openAbout(result.request.id).length === 0);
      const told = shown.filter((n) => n.key.includes(result.request.id));
      assert.deepEqual(
        told.map((n) => n.kind),
        ['waiting', 'denied'],
        'the command and the live event told it once',
      );
      assert.match(told[1].message, /^Your extension of Auto database by 1h was denied by bob: wrap up\. Your access still ends at .+\.$/);
    });

    it('provisioningFailure_isOneOutcome_gettingReadyThenCouldNotBeSetUp_neverGranted', async () => {
      const { request } = await http<{ request: AccessRequest }>('alice', 'POST', '/v1/requests', {
        resourceId: 'broken-db',
        role: 'read',
        durationSeconds: 900,
        justification: 'notifications: failure',
      });
      await http('bob', 'POST', `/v1/requests/${request.id}/approve`, {});
      await waitFor('the failure', () => shown.some((n) => n.kind === 'grantEnded'));
      const kinds = shown
        .filter((n) => n.key.includes(request.id) || n.kind === 'grantEnded' || n.kind === 'gettingReady' || n.kind === 'approved')
        .map((n) => n.kind);
      assert.ok(!kinds.includes('approved'), `told: ${kinds.join(', ')}`);
      assert.equal(kinds.filter((k) => k === 'grantEnded').length, 1, `told: ${kinds.join(', ')}`);
      assert.match(shown.find((n) => n.kind === 'grantEnded')!.message, /^Your read access to Broken database could not be set up: provisioning failed/);
      await waitFor('nothing open about it', () => api.openNotices().length === 0);
    });
  });

  describe('as bob (approver)', () => {
    before(async () => signInAs('bob'));

    it('newRequest_offersReviewApproveDeny_andClosesOnceDecidedFromTheEditor', async () => {
      const { request } = await http<{ request: AccessRequest }>('alice', 'POST', '/v1/requests', {
        resourceId: 'prod-db',
        role: 'read',
        durationSeconds: 1800,
        justification: 'notifications: review',
      });
      const note = await waitFor('the new-request notice', () => openAbout(request.id).find((n) => n.kind === 'newRequest'));
      assert.deepEqual(note.actions, ['Review', 'Approve', 'Deny']);
      await vscode.commands.executeCommand('elevate.denyRequest', request.id, { reason: 'use staging' });
      await waitFor('the notice to close', () => openAbout(request.id).length === 0);
    });

    it('newRequest_closesWhenTheRequesterCancels', async () => {
      const { request } = await http<{ request: AccessRequest }>('alice', 'POST', '/v1/requests', {
        resourceId: 'prod-db',
        role: 'write',
        durationSeconds: 900,
        justification: 'notifications: withdrawn',
      });
      await waitFor('the new-request notice', () => openAbout(request.id).length === 1);
      await http('alice', 'POST', `/v1/requests/${request.id}/cancel`, {});
      await waitFor('the notice to close', () => openAbout(request.id).length === 0);
    });

    it('approvedAccessThatCouldNotBeSetUp_isToldToTheApprover', async () => {
      const { request } = await http<{ request: AccessRequest }>('alice', 'POST', '/v1/requests', {
        resourceId: 'broken-db',
        role: 'read',
        durationSeconds: 900,
        justification: 'notifications: approver hears of failure',
      });
      await waitFor('the request in Approvals', () => api.model.reviewable.some((r) => r.id === request.id));
      await vscode.commands.executeCommand('elevate.approveRequest', request.id, { comment: 'ok' });
      const failed = await waitFor('the approver is told', () => shown.find((n) => n.kind === 'approvedFailed'));
      assert.match(failed.message, /^alice's read access to Broken database, which you approved, could not be set up: provisioning failed/);
    });
  });

  describe('policy shown as it will apply to this person', () => {
    for (const user of ['alice', 'dave']) {
      it(`roleLabels_sayWhatTheDryRunThenSays_for_${user}`, async function () {
        if (!TOKENS[user]) this.skip();
        await signInAs(user);
        const resource = api.model.resource('oncall-db');
        assert.ok(resource, 'oncall-db is listed');
        for (const c of roleChoices(resource, api.model.me!, api.model.now())) {
          const durationSeconds = c.atOnceUpToSeconds || 15 * 60;
          const { evaluation } = await http<{ evaluation: { autoApproved: boolean; reasons: string[] } }>(user, 'POST', '/v1/requests?dryRun=true', {
            resourceId: 'oncall-db',
            role: c.role,
            durationSeconds,
            justification: 'label check',
          });
          assert.equal(
            evaluation.autoApproved,
            c.atOnceUpToSeconds > 0,
            `${user} ${c.role}: label ${c.atOnceUpToSeconds ? 'approved at once' : 'needs approval'}, dry run: ${evaluation.reasons.join('; ')}`,
          );
        }
        const read = roleChoices(resource, api.model.me!, api.model.now()).find((c) => c.role === 'read')!;
        assert.equal(read.atOnceUpToSeconds, user === 'dave' ? 1800 : 0);
      });
    }
    it('dryRunReasons_areWrittenForPeople', async () => {
      const { evaluation } = await http<{ evaluation: { reasons: string[] } }>('alice', 'POST', '/v1/requests?dryRun=true', {
        resourceId: 'oncall-db',
        role: 'read',
        durationSeconds: 900,
        justification: 'reasons',
      });
      assert.deepEqual(evaluation.reasons, ['read up to 30m, for oncall is approved at once, but alice is not in oncall', 'needs 1 approval from dba']);
    });
  });
});
