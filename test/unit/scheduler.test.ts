// The scheduler (server/engine/scheduler.ts) wakes for the next due instant and reads nothing in
// between: no polling loop. Pure timing logic, so a stand-in engine and the fake clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../server/domain/clock.js';
import { Scheduler } from '../../server/engine/scheduler.js';

const MIN = 60_000;

function setup(firstDue: number | null) {
  const clock = new FakeClock();
  const engine = {
    due: firstDue,
    looks: 0,
    sweeps: [] as number[],
    async nextDue() {
      this.looks++;
      return this.due;
    },
    async sweep() {
      this.sweeps.push(clock.now());
      this.due = null; // what was due has ended
      return { grants: 1, requests: 0, warnings: 0 };
    },
  };
  const scheduler = new Scheduler(engine, clock, (e) => assert.fail(String(e)));
  /** lets the scheduler's promises settle between timers, as time passing would */
  const settle = async () => {
    await scheduler.idle();
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  /** moves the fake time forward to `to`, timer by timer */
  const runUntil = async (to: number) => {
    await settle();
    while (clock.fireNext(to)) await settle();
    clock.set(Math.max(clock.now(), to));
  };
  return { clock, engine, scheduler, settle, runUntil };
}

test('withNothingDue_theSchedulerSleepsWithNoTimer_andReadsNothing', async () => {
  const { clock, engine, scheduler, settle, runUntil } = setup(null);
  scheduler.start();
  await settle();
  const looks = engine.looks;
  assert.equal(clock.pendingTimers, 0);
  await runUntil(clock.now() + 60 * MIN);
  assert.equal(engine.looks, looks, 'looked at the next due instant while nothing was due');
  scheduler.stop();
});

test('somethingDueInAnHour_isSweptAtItsInstant_withNoReadBefore', async () => {
  const t0 = new FakeClock().now();
  const { clock, engine, scheduler, settle, runUntil } = setup(t0 + 60 * MIN);
  engine.sweeps.length = 0;
  scheduler.start(); // the start-up catch-up sweeps once
  await settle();
  engine.due = t0 + 60 * MIN;
  scheduler.poke();
  await settle();
  const looks = engine.looks;
  const sweeps = engine.sweeps.length;
  await runUntil(t0 + 60 * MIN - 1);
  assert.equal(engine.looks, looks, 'read the database while waiting');
  assert.equal(engine.sweeps.length, sweeps);
  await runUntil(t0 + 60 * MIN);
  assert.deepEqual(engine.sweeps.slice(sweeps), [t0 + 60 * MIN]);
  assert.equal(clock.pendingTimers, 0, 'nothing is due any more');
  scheduler.stop();
});

test('aForwardStepOfTheWallClock_isNoticedWithinASecond', async () => {
  const t0 = new FakeClock().now();
  const { clock, engine, scheduler, settle, runUntil } = setup(null);
  scheduler.start();
  await settle();
  engine.due = t0 + 60 * MIN;
  scheduler.poke();
  await settle();
  const sweeps = engine.sweeps.length;
  // NTP steps the wall clock past the instant; the monotonic timers do not move
  clock.set(t0 + 61 * MIN);
  await runUntil(t0 + 61 * MIN + 1000);
  assert.equal(engine.sweeps.length, sweeps + 1);
  assert.ok(engine.sweeps[sweeps] <= t0 + 61 * MIN + 1000);
  scheduler.stop();
});

test('thisProcesssCommits_areLookedAtOnceForMany_andIdleLooksAtOnce', async () => {
  const { clock, engine, scheduler, settle } = setup(null);
  scheduler.start();
  await settle();
  const looks = engine.looks;
  // a burst of commits (each pokes soon): one look for all of them, not one each
  engine.due = clock.now() + 10 * MIN;
  for (let i = 0; i < 50; i++) scheduler.pokeSoon();
  assert.equal(scheduler.busy, true, 'a look is waiting');
  await new Promise((r) => setTimeout(r, 60)); // past SOON_MS, on the real clock
  await settle();
  assert.equal(engine.looks, looks + 1);
  assert.equal(clock.pendingTimers, 1, 'armed for the new instant');
  // idle() does not wait out SOON_MS: it looks at once (tests, shutdown)
  engine.due = clock.now() + 5 * MIN;
  scheduler.pokeSoon();
  await scheduler.idle();
  assert.equal(engine.looks, looks + 2);
  assert.equal(scheduler.busy, false);
  scheduler.stop();
});
