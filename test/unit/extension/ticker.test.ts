import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ticker } from '../../../extension/model/ticker';
import { FakeTimers } from './fakes';

describe('Ticker', () => {
  it('ticker_runsOneSharedTimerOnlyWhileSubscribed', () => {
    const timers = new FakeTimers();
    const ticker = new Ticker(1000, timers);
    assert.equal(timers.count, 0);
    let a = 0,
      b = 0;
    const subA = ticker.subscribe(() => a++);
    const subB = ticker.subscribe(() => b++);
    assert.equal(timers.count, 1, 'one interval for both');
    timers.advance(3000);
    assert.deepEqual([a, b], [3, 3]);
    subA.dispose();
    timers.advance(1000);
    assert.deepEqual([a, b], [3, 4]);
    subB.dispose();
    assert.equal(ticker.running, false);
    assert.equal(timers.count, 0);
  });
  it('dispose_stopsTheTimer', () => {
    const timers = new FakeTimers();
    const ticker = new Ticker(1000, timers);
    ticker.subscribe(() => {});
    ticker.dispose();
    assert.equal(timers.count, 0);
  });
});
