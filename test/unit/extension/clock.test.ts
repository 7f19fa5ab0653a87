import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServerClock } from '../../../extension/model/clock';
import { FakeTimers, T0, iso } from './fakes';

describe('ServerClock', () => {
  it('now_withoutSample_isLocalTime', () => {
    const t = new FakeTimers();
    assert.equal(new ServerClock(t.now).now(), T0);
  });
  it('sample_serverAheadByTwoMinutes_shiftsNowByTheOffset', () => {
    const t = new FakeTimers();
    const clock = new ServerClock(t.now);
    clock.sample({ serverTime: iso(T0 + 120_000), localMidpoint: T0, roundTripMs: 20 });
    assert.equal(clock.offset, 120_000);
    t.advance(5_000);
    assert.equal(clock.now(), T0 + 125_000);
  });
  it('sample_usesTheMidpointOfTheRoundTrip', () => {
    const t = new FakeTimers();
    const clock = new ServerClock(t.now);
    // request sent at T0, answered at T0+400: the server read its clock around T0+200
    clock.sample({ serverTime: iso(T0 + 200 - 30_000), localMidpoint: T0 + 200, roundTripMs: 400 });
    assert.equal(clock.offset, -30_000);
  });
  it('sample_muchSlowerRoundTrip_doesNotReplaceAPreciseRecentOne', () => {
    const t = new FakeTimers();
    const clock = new ServerClock(t.now);
    clock.sample({ serverTime: iso(T0 + 1000), localMidpoint: T0, roundTripMs: 10 });
    clock.sample({ serverTime: iso(T0 + 5000), localMidpoint: T0, roundTripMs: 2000 });
    assert.equal(clock.offset, 1000);
  });
  it('sample_afterTenMinutes_replacesTheEstimateEvenIfSlower', () => {
    const t = new FakeTimers();
    const clock = new ServerClock(t.now);
    clock.sample({ serverTime: iso(T0 + 1000), localMidpoint: T0, roundTripMs: 10 });
    t.advance(11 * 60_000);
    clock.sample({ serverTime: iso(t.now() + 4000), localMidpoint: t.now(), roundTripMs: 2000 });
    assert.equal(clock.offset, 4000);
  });
  it('sample_invalidTime_isIgnored', () => {
    const clock = new ServerClock(() => T0);
    clock.sample({ serverTime: 'not a time', localMidpoint: T0, roundTripMs: 1 });
    assert.equal(clock.offset, 0);
  });
});
