import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatDuration, MAX_DURATION_SECONDS, parseDuration, parseDurationOrZero } from '../../server/domain/duration.js';

const DURATION_ERROR = /^Error: expected a duration like "1h30m"$/;

test('parseDuration_acceptsEveryUnitAndCombination', () => {
  assert.equal(parseDuration('90s'), 90);
  assert.equal(parseDuration('15m'), 900);
  assert.equal(parseDuration('1h30m'), 5400);
  assert.equal(parseDuration('2d'), 172800);
  assert.equal(parseDuration('1d2h3m4s'), 86400 + 7200 + 180 + 4);
  assert.equal(parseDuration('90m'), 5400);
});

test('parseDuration_acceptsIntegerSecondsAsNumberOrDigitString', () => {
  assert.equal(parseDuration(3600), 3600);
  assert.equal(parseDuration('3600'), 3600);
});

test('parseDuration_whenNotAPositiveWholeDuration_throwsTheHint', () => {
  for (const bad of ['', ' ', '0', '0s', '-5m', '-1', '1.5h', 'abc', '1h1h', '30m1h', 'h', '1 h', '1H', '1w', '5 minutes']) {
    assert.throws(() => parseDuration(bad), DURATION_ERROR, `"${bad}"`);
  }
  for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => parseDuration(bad), DURATION_ERROR, String(bad));
  }
});

test('parseDuration_whenNotAStringOrNumber_throwsTheHint', () => {
  for (const bad of [null, undefined, true, {}, []]) {
    assert.throws(() => parseDuration(bad as unknown as string), DURATION_ERROR);
  }
});

test('parseDuration_whenAboveTenYears_isRefused', () => {
  assert.equal(parseDuration(MAX_DURATION_SECONDS), MAX_DURATION_SECONDS);
  assert.throws(() => parseDuration(MAX_DURATION_SECONDS + 1), /at most 3650d/);
  assert.throws(() => parseDuration('99999999999999999999d'), /duration/);
});

test('parseDurationOrZero_acceptsZeroButNotNegatives', () => {
  assert.equal(parseDurationOrZero(0), 0);
  assert.equal(parseDurationOrZero('0s'), 0);
  assert.equal(parseDurationOrZero('30m'), 1800);
  assert.throws(() => parseDurationOrZero(-1), DURATION_ERROR);
});

test('formatDuration_writesTheShortestCompoundForm', () => {
  assert.equal(formatDuration(5400), '1h30m');
  assert.equal(formatDuration(45), '45s');
  assert.equal(formatDuration(172800), '2d');
  assert.equal(formatDuration(93784), '1d2h3m4s');
  assert.equal(formatDuration(3600), '1h');
  assert.equal(formatDuration(0), '0s');
});

test('formatDuration_thenParseDuration_roundTripsEveryPositiveDuration', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: MAX_DURATION_SECONDS }), (n) => parseDuration(formatDuration(n)) === n),
    { numRuns: 2000 },
  );
});

test('parseDuration_neverThrowsAnythingButAnError', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.double(), fc.integer()), (v) => {
      try {
        const n = parseDuration(v);
        return Number.isSafeInteger(n) && n > 0;
      } catch (e) {
        return e instanceof Error;
      }
    }),
  );
});
