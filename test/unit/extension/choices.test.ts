import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { autoApprovalFor, durationChoices, extendChoices } from '../../../extension/model/choices';
import { T0, grant, iso, resource } from './fakes';

describe('extend choices', () => {
  it('extendChoices_markWhichApplyAtOnceAndWhichNeedApproval', () => {
    const { choices } = extendChoices(grant(), resource(), T0);
    const byLen = Object.fromEntries(choices.map((c) => [c.seconds, c.atOnce]));
    assert.equal(byLen[900], true);
    assert.equal(byLen[1800], true);
    assert.equal(byLen[3600], false);
  });
  it('extendChoices_neverOfferAnythingPastMaxExpiresAt', () => {
    const g = grant({ expiresAt: iso(T0 + 3600_000), maxExpiresAt: iso(T0 + 3600_000 + 50 * 60_000) });
    const { choices, roomSeconds } = extendChoices(g, resource(), T0);
    assert.equal(roomSeconds, 3000);
    assert.ok(choices.every((c) => c.newExpiresAt <= Date.parse(g.maxExpiresAt)));
    assert.deepEqual(choices.map((c) => c.seconds), [900, 1800, 3000]);
    assert.equal(choices.at(-1)!.toLimit, true);
  });
  it('extendChoices_atTheLimit_offerNothingAndSayWhy', () => {
    const g = grant({ expiresAt: iso(T0 + 3600_000), maxExpiresAt: iso(T0 + 3600_000) });
    assert.deepEqual(extendChoices(g, resource(), T0), { choices: [], roomSeconds: 0, reason: 'atLimit' });
  });
  it('extendChoices_endedGrant_offerNothing', () => {
    const g = grant({ expiresAt: iso(T0) });
    assert.equal(extendChoices(g, resource(), T0).reason, 'ended');
    assert.equal(extendChoices(grant({ status: 'revoked' }), resource(), T0).choices.length, 0);
  });
  it('extendChoices_withoutApprovalLength_isOfferedEvenIfNotAPreset', () => {
    const r = resource({ extension: { maxTotalSeconds: 8 * 3600, withoutApprovalSeconds: 20 * 60 } });
    const c = extendChoices(grant(), r, T0).choices.find((x) => x.seconds === 1200);
    assert.ok(c);
    assert.equal(c.atOnce, true);
  });
  it('extendChoices_unknownResource_needApprovalForAll', () => {
    assert.ok(extendChoices(grant(), undefined, T0).choices.every((c) => !c.atOnce));
  });
});

describe('request duration choices', () => {
  it('durationChoices_stayWithinMaxDurationAndIncludeDefaultAndMax', () => {
    const r = resource({ maxDurationSeconds: 5400, defaultDurationSeconds: 2700 });
    const choices = durationChoices(r, 'write', { groups: [] });
    assert.ok(choices.every((c) => c.seconds <= 5400));
    assert.ok(choices.some((c) => c.seconds === 2700 && c.isDefault));
    assert.ok(choices.some((c) => c.seconds === 5400 && c.isMax));
    assert.deepEqual(choices.map((c) => c.seconds), [...choices.map((c) => c.seconds)].sort((a, b) => a - b));
  });
  it('durationChoices_markWhatARuleApprovesAtOnce', () => {
    const choices = durationChoices(resource(), 'read', { groups: [] });
    assert.equal(choices.find((c) => c.seconds === 1800)?.autoApproval, 'yes');
    assert.equal(choices.find((c) => c.seconds === 3600)?.autoApproval, 'no');
  });
  it('autoApprovalFor_ruleWithGroups_onlyForMembers', () => {
    const r = resource({ approval: { required: 1, approvers: ['group:dba'], autoApprove: [{ roles: ['read'], maxDurationSeconds: 1800, groups: ['oncall'] }] } });
    assert.equal(autoApprovalFor(r, 'read', 900, { groups: ['developers'] }), 'no');
    assert.equal(autoApprovalFor(r, 'read', 900, { groups: ['oncall'] }), 'yes');
  });
  it('autoApprovalFor_ruleWithWindow_isOnlyMaybe', () => {
    const r = resource({ approval: { required: 1, approvers: [], autoApprove: [{ roles: ['read'], maxDurationSeconds: 1800, window: 'Mon-Fri 08:00-18:00 UTC' }] } });
    assert.equal(autoApprovalFor(r, 'read', 900, { groups: [] }), 'maybe');
    assert.equal(autoApprovalFor(r, 'write', 900, { groups: [] }), 'no');
  });
});
