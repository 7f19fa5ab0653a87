import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LiveEvent } from '../../../server/protocol';
import { noticeFor, noticeForRelease } from '../../../extension/model/notices';
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
    const denied = noticeFor(ev('request.denied', { request: request({ status: 'denied', approvals: [{ approverId: 'bob', decision: 'deny', comment: 'not now', at: iso(T0) }] }) }), alice);
    assert.deepEqual(denied?.notice.kind === 'denied' && [denied.notice.by, denied.notice.reason], ['bob', 'not now']);
  });
  it('newRequest_forMyResource_notifiesTheApprover_butNotTheRequester', () => {
    const e = ev('request.created', { request: request() });
    assert.equal(noticeFor(e, bob)?.notice.kind, 'newRequest');
    assert.equal(noticeFor(e, alice), undefined);
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
    assert.deepEqual(fromRelease?.notice, { kind: 'grantEnded', grant: grant({ status: 'expired' }), how: 'expired', released: { terminals: 1, clipboard: false } });
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
