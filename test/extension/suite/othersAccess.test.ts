/// <reference types="mocha" />
// Others' Access (issue 16 §5): an approver sees the active grants they may revoke, live from the
// event stream, and revokes one; the requester's own editor (a second model with its own client and
// stream, in this same extension host) loses it from My Access. Someone who may revoke nothing
// has no such list.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { AccessRequest, Grant } from '../../../server/protocol';
import type { ElevateApi } from '../../../extension/extension';
import { ElevateClient } from '../../../extension/api/client';
import { ServerClock } from '../../../extension/model/clock';
import { ElevateModel } from '../../../extension/model/model';
import { thresholdsFrom } from '../../../extension/model/statusBarState';
import { Ticker } from '../../../extension/model/ticker';
import { MyAccessTree } from '../../../extension/views/trees';
import { SERVER, TOKENS, cleanUp, http, signedIn, waitFor } from './lib';

describe("Others' Access: the grants an approver may revoke", function () {
  this.timeout(60_000);
  let api: ElevateApi;

  const listed = (grantId: string) => api.trees.othersAccess.getChildren().find((n) => n.grant.id === grantId);

  before(async function () {
    if (!SERVER || !TOKENS.alice || !TOKENS.bob) this.skip();
    await cleanUp('alice');
  });
  afterEach(async () => {
    await cleanUp('alice');
  });

  describe('as bob (approves prod-db and auto-db)', () => {
    let requester: ElevateModel;
    let requesterView: MyAccessTree;
    let ticker: Ticker;

    before(async () => {
      api = await signedIn('bob');
      // alice's own editor, beside bob's: its own client, model and event stream
      ticker = new Ticker();
      requester = new ElevateModel({ clock: new ServerClock() });
      requesterView = new MyAccessTree(requester, ticker, () => thresholdsFrom(undefined));
      await requester.connect(new ElevateClient({ serverUrl: SERVER, token: TOKENS.alice }));
      await waitFor("alice's event stream open", () => requester.live === 'open');
    });
    after(() => {
      requesterView?.dispose();
      requester?.dispose();
      ticker?.dispose();
    });

    it('approvedElsewhere_appearsLive_withWhoWhatAndTimeLeft_thenRevoke_endsItInTheRequestersMyAccess', async () => {
      assert.equal(api.model.mayRevokeOthers, true);
      const { request } = await http<{ request: AccessRequest }>('alice', 'POST', '/v1/requests', {
        resourceId: 'prod-db',
        role: 'read',
        durationSeconds: 3600,
        justification: 'others access test',
      });
      // approved outside this editor (as by another approver): only the event stream tells it
      const { grant } = await http<{ grant: Grant }>('bob', 'POST', `/v1/requests/${request.id}/approve`, {});
      const node = await waitFor("the grant in Others' Access", () => listed(grant.id), 10_000);
      const item = api.trees.othersAccess.getTreeItem(node);
      assert.match(String(item.label), /^alice · (59|60) min left · read$/);
      // (a grant ending tomorrow shows its date first: formatClockTime)
      assert.match(String(item.description), /^Production database · until (\S+ \d{1,2} )?\d{1,2}:\d\d/);
      assert.equal(item.contextValue, 'grant.revocable');
      await waitFor("the grant in alice's My Access", () => requesterView.getChildren().some((n) => n.kind === 'grant' && n.grant.id === grant.id), 10_000);

      const revoked = await vscode.commands.executeCommand<Grant>('elevate.revokeGrant', grant.id, { reason: 'incident over', confirm: false });
      assert.equal(revoked?.status, 'revoked');
      assert.equal(listed(grant.id), undefined);
      await waitFor(
        "the grant gone from alice's My Access",
        () => !requesterView.getChildren().some((n) => n.kind === 'grant' && n.grant.id === grant.id),
        10_000,
      );
      const ended = requester.endedGrant(grant.id);
      assert.deepEqual([ended?.status, ended?.endedBy, ended?.endReason], ['revoked', 'bob', 'incident over']);
    });

    it('followsTheGrantsLife_fromTheEventStream_created_extended_relinquished', async () => {
      // auto-db read up to 30m is approved at once: nobody here decided anything
      const { grant } = await http<{ grant: Grant }>('alice', 'POST', '/v1/requests', {
        resourceId: 'auto-db',
        role: 'read',
        durationSeconds: 900,
        justification: 'others access test',
      });
      assert.ok(grant, 'auto-db read 15m is approved at once');
      await waitFor('the auto-approved grant listed', () => listed(grant.id), 10_000);
      const extended = await http<{ grant: Grant }>('alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 600 });
      await waitFor('the new end shown', () => listed(grant.id)?.grant.expiresAt === extended.grant.expiresAt, 10_000);
      assert.match(String(api.trees.othersAccess.getTreeItem(listed(grant.id)!).label), /^alice · (24|25) min left · read$/);
      await http('alice', 'POST', `/v1/grants/${grant.id}/relinquish`, {});
      await waitFor('the relinquished grant gone', () => !listed(grant.id), 10_000);
    });

    it('expiredGrant_leavesTheList_atItsEnd', async () => {
      const { grant } = await http<{ grant: Grant }>('alice', 'POST', '/v1/requests', {
        resourceId: 'auto-db',
        role: 'read',
        durationSeconds: 4,
        justification: 'others access test',
      });
      await waitFor('the short grant listed', () => listed(grant.id), 10_000);
      await waitFor('the expired grant gone', () => !listed(grant.id), 15_000);
      assert.ok(Date.now() >= Date.parse(grant.expiresAt) - 1000, 'left the list before it ended');
    });
  });

  describe('as alice (approves nothing)', () => {
    before(async () => {
      api = await signedIn('alice');
    });

    it('nonApprover_hasNoOthersAccess_evenWhileSomeoneElseHoldsAGrant', async () => {
      const { request } = await http<{ request: AccessRequest }>('dave', 'POST', '/v1/requests', {
        resourceId: 'prod-db',
        role: 'read',
        durationSeconds: 600,
        justification: 'others access test',
      });
      const { grant } = await http<{ grant: Grant }>('bob', 'POST', `/v1/requests/${request.id}/approve`, {});
      try {
        await api.model.refresh();
        assert.equal(api.model.mayRevokeOthers, false);
        assert.deepEqual(api.model.revocable, []);
        assert.deepEqual(api.trees.othersAccess.getChildren(), []);
      } finally {
        await http('dave', 'POST', `/v1/grants/${grant.id}/relinquish`, {});
      }
    });
  });
});
