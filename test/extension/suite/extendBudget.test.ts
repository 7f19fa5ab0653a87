/// <reference types="mocha" />
// The Extend picker's "Applies at once" (issue 16 §2, issue 14 item 9): extension.withoutApproval
// is a budget per grant, so once it is spent the picker must stop promising "at once", exactly as
// the server then decides. auto-db: read up to 30m approved at once, withoutApproval 30m.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { Grant } from '../../../server/protocol';
import type { ElevateApi } from '../../../extension/extension';
import type { ExtendResult } from '../../../extension/api/client';
import { extendPickerOptions } from '../../../extension/commands/extendGrant';
import { SERVER, TOKENS, cleanUp, http, signedIn, waitFor } from './lib';

describe("Extend picker: at once only within the grant's withoutApproval budget", function () {
  this.timeout(60_000);
  let api: ElevateApi;

  before(async function () {
    if (!SERVER || !TOKENS.alice) this.skip();
    api = await signedIn('alice');
  });
  afterEach(async () => {
    await cleanUp('alice');
    await waitFor('alice has nothing active', () => api.model.grants.length === 0 && api.model.myRequests.length === 0);
  });

  const optionsFor = (grantId: string) => {
    const g = api.model.grant(grantId);
    assert.ok(g, 'the grant in the editor');
    return extendPickerOptions(g, api.model.resource(g.resourceId), api.model.now());
  };

  it('afterTheBudgetIsSpent_thePickerNoLongerSaysAtOnce_andTheServerAgrees', async () => {
    const { grant } = await http<{ grant: Grant }>('alice', 'POST', '/v1/requests', {
      resourceId: 'auto-db',
      role: 'read',
      durationSeconds: 900,
      justification: 'extend budget test',
    });
    await waitFor('the grant in the editor', () => api.model.grant(grant.id));
    const before = optionsFor(grant.id);
    assert.deepEqual(
      before.filter((o) => o.detail === 'Applies at once').map((o) => o.seconds),
      [900, 1800],
    );

    const applied = await vscode.commands.executeCommand<ExtendResult>('elevate.extendGrant', grant.id, { durationSeconds: 1800 });
    assert.equal(applied?.kind, 'applied');
    await waitFor('the spent budget in the editor', () => api.model.grant(grant.id)?.addedWithoutApprovalSeconds === 1800);
    const after = optionsFor(grant.id);
    assert.ok(after.length > 0);
    assert.deepEqual(
      after.filter((o) => o.detail === 'Applies at once'),
      [],
      JSON.stringify(after),
    );
    assert.ok(
      after.every((o) => o.detail === 'Needs approval by group dba'),
      JSON.stringify(after),
    );

    // what the label now says is what the server does: the smallest length waits for an approver
    const asked = await vscode.commands.executeCommand<ExtendResult>('elevate.extendGrant', grant.id, {
      durationSeconds: after[0].seconds,
      justification: 'more',
    });
    assert.equal(asked?.kind, 'pending');
  });

  it('partlySpent_offersWhatIsLeftAtOnce', async () => {
    const { grant } = await http<{ grant: Grant }>('alice', 'POST', '/v1/requests', {
      resourceId: 'auto-db',
      role: 'read',
      durationSeconds: 900,
      justification: 'extend budget test',
    });
    await waitFor('the grant in the editor', () => api.model.grant(grant.id));
    // spent elsewhere (another window, the CLI): the event stream brings the new figure
    await http('alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 1200 });
    await waitFor('the spent budget in the editor', () => api.model.grant(grant.id)?.addedWithoutApprovalSeconds === 1200);
    assert.deepEqual(
      optionsFor(grant.id)
        .filter((o) => o.detail === 'Applies at once')
        .map((o) => o.seconds),
      [600],
    );
    const applied = await vscode.commands.executeCommand<ExtendResult>('elevate.extendGrant', grant.id, { durationSeconds: 600 });
    assert.equal(applied?.kind, 'applied');
  });
});
