import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isWithinWindow, parseWindow } from '../../server/domain/window.js';

const at = (iso: string) => Date.parse(iso);

test('parseWindow_readsDaysTimesAndZone', () => {
  assert.deepEqual(parseWindow('Mon-Fri 08:00-18:00 Europe/Berlin'), {
    source: 'Mon-Fri 08:00-18:00 Europe/Berlin',
    days: [1, 2, 3, 4, 5],
    startMinute: 480,
    endMinute: 1080,
    timeZone: 'Europe/Berlin',
  });
});

test('parseWindow_withoutDays_coversEveryDay', () => {
  const w = parseWindow('22:00-06:00 UTC');
  assert.deepEqual(w.days, [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(w.startMinute, 1320);
  assert.equal(w.endMinute, 360);
});

test('parseWindow_readsDayListsRangesAndWrappingRanges', () => {
  assert.deepEqual(parseWindow('Mon,Wed,Fri 09:00-10:00 UTC').days, [1, 3, 5]);
  assert.deepEqual(parseWindow('Sat-Sun 09:00-10:00 UTC').days, [6, 7]);
  assert.deepEqual(parseWindow('Fri-Mon 09:00-10:00 UTC').days, [1, 5, 6, 7]);
  assert.deepEqual(parseWindow('mon-tue,SUN 09:00-10:00 UTC').days, [1, 2, 7]);
});

test('parseWindow_acceptsMidnightAs24AtTheEnd', () => {
  assert.equal(parseWindow('00:00-24:00 UTC').endMinute, 1440);
});

test('parseWindow_whenMalformed_throwsAClearReason', () => {
  const cases: [string, RegExp][] = [
    ['', /expected a window like/],
    ['Mon-Fri', /expected a window like/],
    ['Mon-Fri 08:00-18:00 Europe/Berlin extra', /expected a window like/],
    ['Mon-Fry 08:00-18:00 UTC', /unknown day "Fry"/],
    ['Mon-Tue-Wed 08:00-18:00 UTC', /bad day range/],
    ['Mon, 08:00-18:00 UTC', /unknown day ""/],
    ['8:00-18:00 UTC', /bad time "8:00"/],
    ['08:00-25:00 UTC', /bad time "25:00"/],
    ['08:60-10:00 UTC', /bad time "08:60"/],
    ['24:00-06:00 UTC', /bad time "24:00"/],
    ['08:00 UTC', /bad time range/],
    ['08:00-08:00 UTC', /empty/],
    ['08:00-18:00 Mars/Olympus_Mons', /unknown time zone "Mars\/Olympus_Mons"/],
    ['08:00-18:00 CEST+99', /unknown time zone/],
  ];
  for (const [spec, reason] of cases) assert.throws(() => parseWindow(spec), reason, spec);
});

test('parseWindow_canonicalizesTheZoneName', () => {
  assert.equal(parseWindow('08:00-18:00 utc').timeZone, 'UTC');
});

test('isWithinWindow_startIsInclusiveAndEndExclusive', () => {
  const w = parseWindow('Mon-Fri 08:00-18:00 UTC');
  // 2026-03-02 is a Monday
  assert.equal(isWithinWindow(w, at('2026-03-02T07:59:59.999Z')), false);
  assert.equal(isWithinWindow(w, at('2026-03-02T08:00:00.000Z')), true);
  assert.equal(isWithinWindow(w, at('2026-03-02T17:59:59.999Z')), true);
  assert.equal(isWithinWindow(w, at('2026-03-02T18:00:00.000Z')), false);
});

test('isWithinWindow_onADayNotListed_isOutside', () => {
  const w = parseWindow('Mon-Fri 08:00-18:00 UTC');
  assert.equal(isWithinWindow(w, at('2026-03-07T12:00:00Z')), false); // Saturday
  assert.equal(isWithinWindow(w, at('2026-03-08T12:00:00Z')), false); // Sunday
});

test('isWithinWindow_isEvaluatedInTheNamedZone', () => {
  const w = parseWindow('Mon-Fri 08:00-18:00 America/New_York');
  // 13:00 UTC on a Monday in winter is 08:00 in New York (UTC-5)
  assert.equal(isWithinWindow(w, at('2026-01-05T13:00:00Z')), true);
  assert.equal(isWithinWindow(w, at('2026-01-05T12:59:00Z')), false);
  // 01:00 UTC on Saturday is still Friday 20:00 in New York: outside by the hour, not the day
  assert.equal(isWithinWindow(parseWindow('Fri 19:00-21:00 America/New_York'), at('2026-01-10T01:00:00Z')), true);
});

test('isWithinWindow_crossingMidnight_belongsToTheDayItOpens', () => {
  const w = parseWindow('Fri 22:00-06:00 UTC');
  // 2026-03-06 is a Friday
  assert.equal(isWithinWindow(w, at('2026-03-06T23:00:00Z')), true, 'Fri 23:00');
  assert.equal(isWithinWindow(w, at('2026-03-07T02:00:00Z')), true, 'Sat 02:00');
  assert.equal(isWithinWindow(w, at('2026-03-07T06:00:00Z')), false, 'Sat 06:00 (end exclusive)');
  assert.equal(isWithinWindow(w, at('2026-03-06T02:00:00Z')), false, 'Fri 02:00 belongs to Thursday night');
  assert.equal(isWithinWindow(w, at('2026-03-07T23:00:00Z')), false, 'Sat 23:00');
  assert.equal(isWithinWindow(w, at('2026-03-06T22:00:00Z')), true, 'Fri 22:00 (start inclusive)');
});

test('isWithinWindow_crossingMidnightFromSunday_wrapsToMonday', () => {
  const w = parseWindow('Sun 22:00-06:00 UTC');
  assert.equal(isWithinWindow(w, at('2026-03-09T03:00:00Z')), true); // Monday 03:00
  assert.equal(isWithinWindow(w, at('2026-03-10T03:00:00Z')), false); // Tuesday 03:00
});

test('isWithinWindow_onBerlinSpringForwardSunday_usesSummerTimeAfterTheSwitch', () => {
  // 2026-03-29: at 01:00 UTC Berlin jumps from 02:00 CET to 03:00 CEST
  const w = parseWindow('Sun 08:00-18:00 Europe/Berlin');
  assert.equal(isWithinWindow(w, at('2026-03-29T06:00:00Z')), true, '08:00 CEST');
  assert.equal(isWithinWindow(w, at('2026-03-29T05:59:00Z')), false, '07:59 CEST (would be 06:59 in CET)');
  assert.equal(isWithinWindow(w, at('2026-03-29T15:59:00Z')), true, '17:59 CEST');
  assert.equal(isWithinWindow(w, at('2026-03-29T16:00:00Z')), false, '18:00 CEST');
  // A window covering the skipped hour: 01:59 CET is inside, the next minute is already 03:00 CEST
  const night = parseWindow('Sun 01:00-03:00 Europe/Berlin');
  assert.equal(isWithinWindow(night, at('2026-03-29T00:59:00Z')), true, '01:59 CET');
  assert.equal(isWithinWindow(night, at('2026-03-29T01:00:00Z')), false, '03:00 CEST');
});

test('isWithinWindow_onBerlinFallBackSunday_usesWinterTimeAfterTheSwitch', () => {
  // 2026-10-25: at 01:00 UTC Berlin falls back from 03:00 CEST to 02:00 CET
  const w = parseWindow('Sun 08:00-18:00 Europe/Berlin');
  assert.equal(isWithinWindow(w, at('2026-10-25T07:00:00Z')), true, '08:00 CET');
  assert.equal(isWithinWindow(w, at('2026-10-25T06:30:00Z')), false, '07:30 CET (would be 08:30 in CEST)');
  assert.equal(isWithinWindow(w, at('2026-10-25T16:59:00Z')), true, '17:59 CET');
  assert.equal(isWithinWindow(w, at('2026-10-25T17:00:00Z')), false, '18:00 CET');
  // The repeated hour 02:00-03:00 happens twice and is inside both times
  const night = parseWindow('Sun 02:00-03:00 Europe/Berlin');
  assert.equal(isWithinWindow(night, at('2026-10-25T00:30:00Z')), true, '02:30 CEST');
  assert.equal(isWithinWindow(night, at('2026-10-25T01:30:00Z')), true, '02:30 CET');
  assert.equal(isWithinWindow(night, at('2026-10-25T02:00:00Z')), false, '03:00 CET');
});

test('isWithinWindow_overnightAcrossBerlinDstSwitch_staysOpenUntilLocalEnd', () => {
  // Saturday night into the spring-forward Sunday: the night is an hour shorter in real time
  const w = parseWindow('Sat 22:00-06:00 Europe/Berlin');
  assert.equal(isWithinWindow(w, at('2026-03-28T21:00:00Z')), true, 'Sat 22:00 CET');
  assert.equal(isWithinWindow(w, at('2026-03-29T03:59:00Z')), true, 'Sun 05:59 CEST');
  assert.equal(isWithinWindow(w, at('2026-03-29T04:00:00Z')), false, 'Sun 06:00 CEST');
});

// Brute-force reference for fixed-offset zones: walk the window openings on the local calendar
// (as minutes since the epoch, shifted by the offset) without any Intl.
const dayNames = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
function referenceInside(days: number[], start: number, end: number, offsetMinutes: number, ms: number): boolean {
  const localMinute = Math.floor(ms / 60000) + offsetMinutes;
  const dayIndex = Math.floor(localMinute / 1440);
  for (const d of [dayIndex - 1, dayIndex]) {
    const weekday = ((((d + 3) % 7) + 7) % 7) + 1; // epoch day 0 (1970-01-01) was a Thursday
    if (!days.includes(weekday)) continue;
    const open = d * 1440 + start;
    const close = end > start ? d * 1440 + end : (d + 1) * 1440 + end;
    if (localMinute >= open && localMinute < close) return true;
  }
  return false;
}

test('isWithinWindow_matchesABruteForceReference_forAnyWindowAndInstant', () => {
  // Etc/GMT-5 is UTC+5 (POSIX signs are inverted)
  const zones: [string, number][] = [
    ['UTC', 0],
    ['Etc/GMT-5', 300],
    ['Etc/GMT+10', -600],
  ];
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 7 }),
      fc.integer({ min: 0, max: 1439 }),
      fc.integer({ min: 0, max: 1439 }),
      fc.constantFrom(...zones),
      fc.integer({ min: Date.parse('2000-01-01'), max: Date.parse('2100-01-01') }),
      (days, start, end, [zone, offset], ms) => {
        fc.pre(start !== end);
        const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
        const w = parseWindow(`${days.map((d) => dayNames[d - 1]).join(',')} ${hhmm(start)}-${hhmm(end)} ${zone}`);
        return isWithinWindow(w, ms) === referenceInside(days, start, end, offset, ms);
      },
    ),
    { numRuns: 3000 },
  );
});

test('isWithinWindow_midnightCrossingWindow_matchesTheLocalHourEveryMinuteOfAWeek', () => {
  // Exhaustive over one week in Berlin: "Fri-Sun 22:00-06:00" is inside exactly when the local
  // hour is >= 22 on Fri/Sat/Sun or < 6 on Sat/Sun/Mon.
  const w = parseWindow('Fri-Sun 22:00-06:00 Europe/Berlin');
  const local = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', weekday: 'short', hour: 'numeric', hourCycle: 'h23' });
  const startMs = Date.parse('2026-03-23T00:00:00Z'); // includes the spring-forward weekend
  for (let ms = startMs; ms < startMs + 8 * 86400_000; ms += 60_000) {
    const parts = local.formatToParts(ms);
    const day = parts.find((p) => p.type === 'weekday')!.value;
    const hour = Number(parts.find((p) => p.type === 'hour')!.value);
    const expected = (hour >= 22 && ['Fri', 'Sat', 'Sun'].includes(day)) || (hour < 6 && ['Sat', 'Sun', 'Mon'].includes(day));
    assert.equal(isWithinWindow(w, ms), expected, new Date(ms).toISOString());
  }
});
