import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeStatusBar, thresholdsFrom } from '../../../extension/model/statusBarState';
import { T0, grant, iso } from './fakes';

const defaults = thresholdsFrom([5, 1]);

describe('status bar state', () => {
  it('computeStatusBar_noActiveGrant_isHidden', () => {
    const s = computeStatusBar([], T0, defaults);
    assert.equal(s.visible, false);
    assert.equal(s.lines.length, 0);
  });
  it('computeStatusBar_oneGrant_countsItDownWithResourceAndRole', () => {
    const s = computeStatusBar([grant({ resourceId: 'prod-db', role: 'write', expiresAt: iso(T0 + 14 * 60_000 + 59_000) })], T0, defaults);
    assert.equal(s.visible, true);
    assert.equal(s.text, '$(shield) prod-db write 14:59');
    // with names (as the extension passes them): the name people read in notifications too
    const named = computeStatusBar(
      [grant({ resourceId: 'prod-db', role: 'write', expiresAt: iso(T0 + 14 * 60_000 + 59_000) })],
      T0,
      defaults,
      () => 'Production database',
    );
    assert.equal(named.text, '$(shield) Production database write 14:59');
    assert.equal(s.severity, 'normal');
  });
  it('computeStatusBar_severalGrants_showsTheSoonestAndPlusN', () => {
    const s = computeStatusBar(
      [
        grant({ id: 'a', resourceId: 'a-db', expiresAt: iso(T0 + 2 * 3600_000 + 5 * 60_000) }),
        grant({ id: 'b', resourceId: 'b-db', expiresAt: iso(T0 + 10 * 60_000) }),
        grant({ id: 'c', resourceId: 'c-db', expiresAt: iso(T0 + 3600_000 + 5 * 60_000) }),
      ],
      T0,
      defaults,
    );
    assert.equal(s.text, '$(shield) b-db read 10:00 +2');
    assert.deepEqual(
      s.lines.map((l) => l.grant.id),
      ['b', 'c', 'a'],
    );
    assert.equal(s.lines[1].timeLeft, '1h 05m');
  });
  it('computeStatusBar_endedOrInactiveGrants_areLeftOut', () => {
    const s = computeStatusBar([grant({ id: 'x', expiresAt: iso(T0) }), grant({ id: 'y', status: 'revoked' }), grant({ id: 'z' })], T0, defaults);
    assert.deepEqual(
      s.lines.map((l) => l.grant.id),
      ['z'],
    );
    assert.ok(!s.text.includes('+'));
  });
  it('severity_betweenFirstAndLastValue_isWarning', () => {
    assert.equal(computeStatusBar([grant({ expiresAt: iso(T0 + 5 * 60_000) })], T0, defaults).severity, 'warning');
    assert.equal(computeStatusBar([grant({ expiresAt: iso(T0 + 5 * 60_000 + 1) })], T0, defaults).severity, 'normal');
    assert.equal(computeStatusBar([grant({ expiresAt: iso(T0 + 61_000) })], T0, defaults).severity, 'warning');
  });
  it('severity_atOrBelowLastValue_isError', () => {
    assert.equal(computeStatusBar([grant({ expiresAt: iso(T0 + 60_000) })], T0, defaults).severity, 'error');
    assert.equal(computeStatusBar([grant({ expiresAt: iso(T0 + 1000) })], T0, defaults).severity, 'error');
  });
  it('thresholdsFrom_fractionalMinutes_areHonoured', () => {
    const t = thresholdsFrom([2.5, 0.5]);
    assert.deepEqual(t, { warningMs: 150_000, errorMs: 30_000 });
    assert.equal(computeStatusBar([grant({ expiresAt: iso(T0 + 31_000) })], T0, t).severity, 'warning');
    assert.equal(computeStatusBar([grant({ expiresAt: iso(T0 + 30_000) })], T0, t).severity, 'error');
  });
  it('thresholdsFrom_unorderedOrInvalidValues_areSortedAndFiltered', () => {
    assert.deepEqual(thresholdsFrom([1, 'x', -3, 10, null]), { warningMs: 600_000, errorMs: 60_000 });
    assert.deepEqual(thresholdsFrom([]), { warningMs: 300_000, errorMs: 60_000 });
    assert.deepEqual(thresholdsFrom(undefined), { warningMs: 300_000, errorMs: 60_000 });
  });
  it('thresholdsFrom_singleValue_isBothWarningAndError', () => {
    assert.deepEqual(thresholdsFrom([3]), { warningMs: 180_000, errorMs: 180_000 });
  });
});
