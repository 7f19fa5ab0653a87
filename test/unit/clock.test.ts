import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock, GuardedClock } from '../../server/domain/clock.js';

function sources() {
  const s = { wall: 1_000_000, mono: 0 };
  return {
    s,
    clock: new GuardedClock(
      () => s.wall,
      () => s.mono,
      new FakeClock(),
    ),
  };
}

test('guardedClock_followsWallTime_whenClocksAgree', () => {
  const { s, clock } = sources();
  s.wall += 5000;
  s.mono += 5000;
  assert.equal(clock.now(), 1_005_000);
  assert.equal(clock.takeForwardJump(), 0);
});

test('guardedClock_whenWallJumpsBackward_keepsAdvancingOnMonotonicTime', () => {
  const { s, clock } = sources();
  s.wall -= 3_600_000; // someone set the clock back an hour
  s.mono += 2000;
  assert.equal(clock.now(), 1_002_000, 'a backward step must not lengthen access');
  s.mono += 1000;
  s.wall += 1000;
  assert.equal(clock.now(), 1_003_000);
});

test('guardedClock_whenWallJumpsForward_followsItAndReportsTheJump', () => {
  const { s, clock } = sources();
  s.wall += 600_000;
  s.mono += 10;
  assert.equal(clock.now(), 1_600_000);
  assert.ok(clock.takeForwardJump() >= 599_000);
  assert.equal(clock.takeForwardJump(), 0, 'reported once');
});

test('guardedClock_neverGoesBackward_afterForwardThenBackwardJumps', () => {
  const { s, clock } = sources();
  s.wall += 600_000;
  const a = clock.now();
  s.wall -= 600_000;
  s.mono += 1;
  assert.ok(clock.now() >= a);
});

test('fakeClock_advance_firesDueTimersInOrder', () => {
  const c = new FakeClock(0);
  const seen: number[] = [];
  c.setTimer(200, () => seen.push(c.now()));
  c.setTimer(100, () => seen.push(c.now()));
  const cancel = c.setTimer(150, () => seen.push(-1));
  cancel();
  c.advance(250);
  assert.deepEqual(seen, [100, 200]);
  assert.equal(c.now(), 250);
});
