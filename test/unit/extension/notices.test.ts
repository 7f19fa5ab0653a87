import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LiveEvent } from '../../../server/protocol';
import { grantedNotice, inertNotificationText, MUTABLE_KINDS, muteKindOf, noticeFor, noticeForRelease, waitingNotice } from '../../../extension/model/notices';
import { T0, grant, iso, request } from './fakes';

const alice = { id: 'alice', approverOf: [] as string[] };
const bob = { id: 'bob', approverOf: ['prod-db'] };
const ev = (type: LiveEvent['type'], body: Partial<LiveEvent>): LiveEvent => ({ type, at: iso(T0), ...body });

describe('notices', () => {
  it('expiring_forMyGrant_offersExtend_withAKeyPerThreshold', () => {
    const a = noticeFor(ev('grant.expiring', { grant: grant(), secondsLeft: 300 }), alice);
    const b = noticeFor(ev('grant.expiring', { grant: grant(), secondsLeft: 60 }), alice);
    assert.equal(a?.notice.kind, 'expiring');
    assert.notEqual(a?.key, b?.key);
  });
  it('expiring_forSomeoneElse_isSilent', () => {
    assert.equal(noticeFor(ev('grant.expiring', { grant: grant({ userId: 'carol' }), secondsLeft: 300 }), alice), undefined);
  });
  it('approved_withoutItsGrant_waitsForGrantActivated_underTheSameKey', () => {
    assert.equal(noticeFor(ev('request.approved', { request: request({ status: 'approved' }) }), alice), undefined);
    const n = noticeFor(ev('grant.activated', { grant: grant({ requestId: 'r1' }) }), alice);
    assert.equal(n?.key, 'decided:r1');
    assert.equal(n?.notice.kind, 'approved');
  });
  it('approvedAndDenied_shareTheDecisionKeySoTheCommandThatCausedItCanSilenceIt', () => {
    assert.equal(noticeFor(ev('request.approved', { request: request({ status: 'approved' }), grant: grant() }), alice)?.key, 'decided:r1');
    const denied = noticeFor(
      ev('request.denied', { request: request({ status: 'denied', approvals: [{ approverId: 'bob', decision: 'deny', comment: 'not now', at: iso(T0) }] }) }),
      alice,
    );
    assert.deepEqual(denied?.notice.kind === 'denied' && [denied.notice.by, denied.notice.reason], ['bob', 'not now']);
  });
  it('newRequest_forMyResource_notifiesTheApprover_andTellsTheRequesterItWaits', () => {
    const e = ev('request.created', { request: request() });
    assert.equal(noticeFor(e, bob)?.notice.kind, 'newRequest');
    assert.equal(noticeFor(e, alice)?.notice.kind, 'waiting');
  });
  it('revoked_forMyGrant_isAGrantEndedNotice', () => {
    const n = noticeFor(ev('grant.revoked', { grant: grant({ status: 'revoked', endedBy: 'bob' }) }), alice);
    assert.deepEqual(n?.notice.kind === 'grantEnded' && n.notice.how, 'revoked');
  });
  it('relinquished_isSilent_becauseTheUserDidIt', () => {
    assert.equal(noticeFor(ev('grant.relinquished', { grant: grant({ status: 'relinquished' }) }), alice), undefined);
  });
});

describe('noticeForRelease', () => {
  const released = (reason: 'expired' | 'revoked' | 'relinquished' | 'ended', terminals: number, clipboard: boolean) =>
    noticeForRelease({ grant: grant({ status: reason === 'ended' ? 'active' : reason }), reason, terminals, clipboard });

  it('noticeForRelease_sharesTheKeyOfTheGrantsEndEvent_soTheEndIsAnnouncedOnce', () => {
    const fromEvent = noticeFor(ev('grant.expired', { grant: grant({ status: 'expired' }) }), alice);
    const fromRelease = released('expired', 1, false);
    assert.equal(fromRelease?.key, fromEvent?.key);
    assert.deepEqual(fromRelease?.notice, {
      kind: 'grantEnded',
      grant: grant({ status: 'expired' }),
      how: 'expired',
      released: { terminals: 1, clipboard: false },
    });
  });
  it('noticeForRelease_relinquishedWithNothingLeftToLetGoOf_isSilent_becauseTheUserDidIt', () => {
    assert.equal(released('relinquished', 0, false), undefined);
    assert.equal(released('relinquished', 0, true)?.notice.kind, 'grantEnded');
    assert.equal(released('relinquished', 2, false)?.notice.kind, 'grantEnded');
  });
  it('noticeForRelease_endedByTheServerWithTheClipboardChangedSince_stillSaysTheAccessEnded', () => {
    const n = released('revoked', 0, false);
    assert.deepEqual(n?.notice.kind === 'grantEnded' && [n.notice.how, n.notice.released], ['revoked', { terminals: 0, clipboard: false }]);
    assert.equal(released('ended', 0, false)?.key, 'ended:g1');
  });
});

describe('notices: one event, one notification', () => {
  const provider = (provisioned: string[] = []) => ({ hasProvider: (id: string) => id === 'prod-db', isProvisioned: (id: string) => provisioned.includes(id) });

  it('myRequestCreated_isTheWaitingNotice_underTheKeyTheCommandUses', () => {
    const r = request();
    assert.deepEqual(noticeFor(ev('request.created', { request: r }), alice), waitingNotice(r));
  });
  it('autoApproved_eventAndCommandAnswer_shareOneKey_soItIsToldOnce', () => {
    const r = request({ status: 'approved', autoApproved: true, grantId: 'g1' });
    const g = grant({ requestId: r.id, resourceId: 'staging-logs' });
    const fromApproved = noticeFor(ev('request.approved', { request: r, grant: g }), alice);
    const fromActivated = noticeFor(ev('grant.activated', { grant: g }), alice);
    const fromCommand = grantedNotice(g, r);
    assert.equal(fromApproved?.key, fromCommand.key);
    assert.equal(fromActivated?.key, fromCommand.key);
  });
  it('grantOnAProvidersResource_isGettingReady_untilProvisioned_thenGranted', () => {
    const g = grant({ resourceId: 'prod-db' });
    assert.equal(noticeFor(ev('grant.activated', { grant: g }), alice, provider())?.notice.kind, 'gettingReady');
    assert.equal(grantedNotice(g, undefined, provider()).notice.kind, 'gettingReady');
    const ready = noticeFor(ev('grant.provisioned', { grant: g }), alice, provider([g.id]));
    assert.deepEqual([ready?.notice.kind, ready?.key], ['approved', `decided:${g.requestId}`]);
    // once provisioned, a late answer or replay says the same thing under the same key
    assert.equal(grantedNotice(g, undefined, provider([g.id])).key, ready?.key);
  });
  it('grantFailed_tellsTheOwnerItCouldNotBeSetUp_andTheApproverToo', () => {
    const g = grant({ status: 'failed', resourceId: 'prod-db', endReason: 'provisioning failed: boom' });
    assert.deepEqual(noticeFor(ev('grant.failed', { grant: g }), alice)?.notice, { kind: 'grantEnded', grant: g, how: 'failed' });
    assert.equal(noticeFor(ev('grant.failed', { grant: g }), bob)?.notice.kind, 'approvedFailed');
    assert.equal(noticeFor(ev('grant.failed', { grant: g }), { id: 'carol', approverOf: [] }), undefined);
  });
  it('everyNoticeKind_canBeMuted_underAKindTheSettingLists', () => {
    for (const k of [
      'expiring',
      'waiting',
      'gettingReady',
      'approved',
      'extensionApproved',
      'denied',
      'requestExpired',
      'grantEnded',
      'newRequest',
      'approvedFailed',
      'signedOut',
    ] as const) {
      assert.ok(muteKindOf(k) in MUTABLE_KINDS, k);
    }
  });
});

describe('inertNotificationText', () => {
  it('userTextCannotPlantACommandLinkInANotification', () => {
    const hostile = 'urgent [Approve](command:elevate.approveRequest?%5B%22r9%22%5D) and [docs]( https://evil.test)';
    const safe = inertNotificationText(hostile);
    assert.doesNotMatch(safe, /\]\(/);
    assert.equal(safe, 'urgent [Approve] (command:elevate.approveRequest?%5B%22r9%22%5D) and [docs] ( https://evil.test)');
  });
});
