import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { durationChoices, extendAppliesAtOnce, extendChoices, roleChoices } from '../../../extension/model/choices';
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
    assert.deepEqual(
      choices.map((c) => c.seconds),
      [900, 1800, 3000],
    );
    assert.equal(choices.at(-1)!.toLimit, true);
  });
  it('extendChoices_atTheLimit_offerNothingAndSayWhy', () => {
    const g = grant({ expiresAt: iso(T0 + 3600_000), maxExpiresAt: iso(T0 + 3600_000) });
    assert.deepEqual(extendChoices(g, resource(), T0), { choices: [], roomSeconds: 0, atOnceLeftSeconds: 0, reason: 'atLimit' });
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
  it('extendChoices_afterTheBudgetIsSpent_noLongerSayAtOnce', () => {
    // resource(): withoutApproval 30m per grant
    assert.deepEqual(
      extendChoices(grant({ addedWithoutApprovalSeconds: 1800 }), resource(), T0).choices.filter((c) => c.atOnce),
      [],
    );
    const partly = extendChoices(grant({ addedWithoutApprovalSeconds: 1500 }), resource(), T0);
    assert.deepEqual(
      partly.choices.filter((c) => c.atOnce).map((c) => c.seconds),
      [300],
    );
    assert.equal(partly.atOnceLeftSeconds, 300);
    assert.equal(extendAppliesAtOnce(grant({ addedWithoutApprovalSeconds: 1500 }), resource(), 300), true);
    assert.equal(extendAppliesAtOnce(grant({ addedWithoutApprovalSeconds: 1500 }), resource(), 301), false);
  });
  it('extendChoices_unknownResource_needApprovalForAll', () => {
    assert.ok(extendChoices(grant(), undefined, T0).choices.every((c) => !c.atOnce));
  });
});

describe('request choices: the same matching as the dry run, for this person, now', () => {
  const alice = { id: 'alice', groups: ['developers'] };
  const dave = { id: 'dave', groups: ['oncall'] };
  const MONDAY_NOON_UTC = Date.parse('2026-11-23T12:00:00.000Z');
  const SATURDAY_NOON_UTC = Date.parse('2026-11-28T12:00:00.000Z');

  it('durationChoices_stayWithinMaxDurationAndIncludeDefaultAndMax', () => {
    const r = resource({ maxDurationSeconds: 5400, defaultDurationSeconds: 2700 });
    const choices = durationChoices(r, 'write', alice, T0);
    assert.ok(choices.every((c) => c.seconds <= 5400));
    assert.ok(choices.some((c) => c.seconds === 2700 && c.isDefault));
    assert.ok(choices.some((c) => c.seconds === 5400 && c.isMax));
    assert.deepEqual(
      choices.map((c) => c.seconds),
      [...choices.map((c) => c.seconds)].sort((a, b) => a - b),
    );
  });
  it('durationChoices_markWhatARuleApprovesAtOnce', () => {
    const choices = durationChoices(resource(), 'read', alice, T0);
    assert.equal(choices.find((c) => c.seconds === 1800)?.atOnce, true);
    assert.equal(choices.find((c) => c.seconds === 3600)?.atOnce, false);
  });
  it('roleChoices_ruleForAnotherGroup_needsApprovalForOutsiders_andNotForMembers', () => {
    const r = resource({
      approval: { required: 1, approvers: ['group:dba'], autoApprove: [{ roles: ['read'], maxDurationSeconds: 1800, groups: ['oncall'] }] },
    });
    assert.deepEqual(roleChoices(r, alice, T0), [
      { role: 'read', atOnceUpToSeconds: 0 },
      { role: 'write', atOnceUpToSeconds: 0 },
    ]);
    assert.deepEqual(roleChoices(r, dave, T0), [
      { role: 'read', atOnceUpToSeconds: 1800 },
      { role: 'write', atOnceUpToSeconds: 0 },
    ]);
  });
  it('roleChoices_ruleWithAWindow_isAtOnceOnlyInsideIt', () => {
    const r = resource({
      approval: { required: 1, approvers: [], autoApprove: [{ roles: ['read'], maxDurationSeconds: 1800, window: 'Mon-Fri 08:00-18:00 UTC' }] },
    });
    assert.equal(roleChoices(r, alice, MONDAY_NOON_UTC)[0].atOnceUpToSeconds, 1800);
    assert.equal(roleChoices(r, alice, SATURDAY_NOON_UTC)[0].atOnceUpToSeconds, 0);
    assert.equal(
      durationChoices(r, 'read', alice, SATURDAY_NOON_UTC).some((c) => c.atOnce),
      false,
    );
  });
});
