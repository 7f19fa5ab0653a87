import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asSentence, formatDuration, formatMinutesLeft, formatTimeLeft } from '../../../extension/model/format';
import { parsePolicyDuration, parseTypedDuration as parseDuration } from '../../../server/protocol/duration';

describe('formatTimeLeft', () => {
  it('formatTimeLeft_underAnHour_isMinutesAndSeconds', () => {
    assert.equal(formatTimeLeft(14 * 60_000 + 59_000), '14:59');
    assert.equal(formatTimeLeft(59 * 60_000 + 59_000), '59:59');
    assert.equal(formatTimeLeft(5_000), '0:05');
  });
  it('formatTimeLeft_fromAnHour_isHoursAndPaddedMinutes', () => {
    assert.equal(formatTimeLeft(3600_000), '1h 00m');
    assert.equal(formatTimeLeft(3600_000 + 5 * 60_000), '1h 05m');
    assert.equal(formatTimeLeft(26 * 3600_000 + 59 * 60_000 + 59_000), '26h 59m');
  });
  it('formatTimeLeft_partialSecond_roundsUpSoAnActiveGrantNeverShowsZero', () => {
    assert.equal(formatTimeLeft(1), '0:01');
    assert.equal(formatTimeLeft(59_001), '1:00');
    assert.equal(formatTimeLeft(3599_500), '1h 00m');
  });
  it('formatTimeLeft_pastTheEnd_isZero', () => {
    assert.equal(formatTimeLeft(0), '0:00');
    assert.equal(formatTimeLeft(-5000), '0:00');
  });
});

describe('formatMinutesLeft', () => {
  it('formatMinutesLeft_isWholeMinutesLeft_agreeingWithTheStatusBarsCountdown', () => {
    assert.equal(formatMinutesLeft(3 * 60_000 + 9_000), '3 min'); // the status bar shows 3:09
    assert.equal(formatMinutesLeft(14 * 60_000 + 1), '14 min');
    assert.equal(formatMinutesLeft(65 * 60_000), '1h 05m');
    assert.equal(formatMinutesLeft(30_000), '<1 min');
    assert.equal(formatMinutesLeft(-1), '0 min');
  });
});

describe('formatDuration / parseDuration', () => {
  it('formatDuration_writesPolicyStyle', () => {
    assert.equal(formatDuration(90), '1m 30s');
    assert.equal(formatDuration(900), '15m');
    assert.equal(formatDuration(3600), '1h');
    assert.equal(formatDuration(5400), '1h 30m');
    assert.equal(formatDuration(2 * 86400), '2d');
    assert.equal(formatDuration(86400 + 4 * 3600), '1d 4h');
  });
  it('parseDuration_acceptsUnitsAndBareMinutes', () => {
    assert.equal(parseDuration('45'), 2700);
    assert.equal(parseDuration('45m'), 2700);
    assert.equal(parseDuration('1h30m'), 5400);
    assert.equal(parseDuration(' 1h 30m '), 5400);
    assert.equal(parseDuration('2d'), 172800);
    assert.equal(parseDuration('90s'), 90);
  });
  it('parseDuration_rejectsGarbageAndZero', () => {
    for (const bad of ['', 'abc', '1x', 'h', '1h foo', '0m', '-5m']) assert.equal(parseDuration(bad), undefined, bad);
  });
  it('theTwoGrammars_differOnABareNumber_andNeitherTakesItSilently', () => {
    // typed into the editor: minutes (the pickers show "Use 45m"); in the policy file: seconds
    assert.equal(parseDuration('45'), 45 * 60);
    assert.equal(parsePolicyDuration('45'), 45);
    assert.equal(parsePolicyDuration('45m'), parseDuration('45m'));
  });
  it('formatDuration_roundTripsThroughParseDuration', () => {
    for (const s of [60, 900, 3600, 5400, 86400, 90000]) assert.equal(parseDuration(formatDuration(s).replace(' ', '')), s);
  });
});

describe('asSentence', () => {
  it('asSentence_addsAFullStopOnlyWhereASentenceDoesNotEndYet', () => {
    assert.equal(asSentence('Your read access to DB was revoked by bob: incident over'), 'Your read access to DB was revoked by bob: incident over.');
    assert.equal(asSentence('Your read access to DB has ended.'), 'Your read access to DB has ended.');
    assert.equal(asSentence('was revoked: why?  '), 'was revoked: why?');
  });
});
