import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Grant } from '../../../server/protocol';
import { CredentialHolders, type Holder, type HolderKind, type HoldersModel, type Released } from '../../../extension/model/credentialHolders';
import type { ChangeKind, ConnectionState, ModelEvent } from '../../../extension/model/model';
import { Emitter, nullLogger } from '../../../extension/util/lifecycle';
import { FakeTimers, T0, grant, iso } from './fakes';

/** The part of the model the holders read, moved by hand. */
class FakeModel implements HoldersModel {
  private readonly changes = new Emitter<ReadonlySet<ChangeKind>>();
  private readonly events = new Emitter<ModelEvent>();
  readonly onDidChange = this.changes.event;
  readonly onDidReceiveEvent = this.events.event;
  state: ConnectionState = 'ready';
  grants: Grant[] = [];
  private readonly ended = new Map<string, Grant>();

  constructor(private readonly timers: FakeTimers) {}
  now = () => this.timers.now();
  endedGrant = (id: string) => this.ended.get(id);

  /** The server says the grant ended this way (an event or the answer to the user's command). */
  end(g: Grant): void {
    this.grants = this.grants.filter((x) => x.id !== g.id);
    this.ended.set(g.id, g);
    this.changes.fire(new Set(['grants']));
  }
  extend(id: string, expiresAt: number): void {
    this.grants = this.grants.map((g) => (g.id === id ? { ...g, expiresAt: iso(expiresAt), extensions: g.extensions + 1 } : g));
    this.changes.fire(new Set(['grants']));
  }
  disconnect(): void {
    this.state = 'unreachable';
    this.changes.fire(new Set(['connection']));
  }
}

/** A holder that counts how often it was let go of; `answer` is what its release() says. */
function holder(kind: HolderKind, answer: () => boolean | Promise<boolean> = () => true): Holder & { released: number } {
  const h = {
    kind,
    released: 0,
    release: () => {
      h.released++;
      return answer();
    },
  };
  return h;
}

function setup(grants: Grant[] = [grant({ id: 'g1' })]) {
  const timers = new FakeTimers();
  const model = new FakeModel(timers);
  model.grants = grants;
  const holders = new CredentialHolders(model, timers, nullLogger);
  const released: Released[] = [];
  holders.onDidRelease((r) => released.push(r));
  return { timers, model, holders, released };
}

// onDidRelease fires once every holder has answered (the clipboard answers asynchronously)
const settled = () => new Promise<void>((r) => setImmediate(r));
const expiresAt = (g: Grant) => g.expiresAt;

describe('CredentialHolders', () => {
  it('grantRelinquished_everyHolderOfItLetsGo_andOneReleaseSaysWhatWasLetGoOf', async () => {
    const g1 = grant({ id: 'g1' });
    const g2 = grant({ id: 'g2', expiresAt: iso(T0 + 30 * 60_000) });
    const { model, holders, released } = setup([g1, g2]);
    const [t1, t2, clip, other] = [holder('terminal'), holder('terminal'), holder('clipboard'), holder('terminal')];
    holders.hold(g1, expiresAt(g1), t1);
    holders.hold(g1, expiresAt(g1), t2);
    holders.hold(g1, expiresAt(g1), clip);
    holders.hold(g2, expiresAt(g2), other);

    model.end({ ...g1, status: 'relinquished', endedBy: 'alice' });
    await settled();
    assert.deepEqual([t1.released, t2.released, clip.released, other.released], [1, 1, 1, 0]);
    assert.deepEqual(released.map(({ grant: g, ...rest }) => [g.id, g.status, rest]), [
      ['g1', 'relinquished', { reason: 'relinquished', terminals: 2, clipboard: true }],
    ]);
    assert.deepEqual(holders.holdersOf('g1'), []);
    assert.equal(holders.holdersOf('g2').length, 1);
  });

  it('clipboardChangedSince_isLeftAlone_andTheReleaseSaysSo', async () => {
    const { model, holders, released } = setup();
    const g1 = model.grants[0];
    holders.hold(g1, expiresAt(g1), holder('clipboard', async () => false));
    model.end({ ...g1, status: 'revoked', endedBy: 'bob', endReason: 'incident over' });
    await settled();
    assert.equal(released.length, 1);
    assert.equal(released[0].clipboard, false);
    assert.equal(released[0].reason, 'revoked');
    // the grant as it ended, so the notice can say who revoked it and why
    assert.equal(released[0].grant.endReason, 'incident over');
  });

  it('announcesEndOf_isTrueAsSoonAsTheEndIsNoticed_beforeAnythingIsLetGoOf', async () => {
    const { model, holders, released } = setup();
    const g1 = model.grants[0];
    let answer!: (v: boolean) => void;
    holders.hold(g1, expiresAt(g1), holder('clipboard', () => new Promise<boolean>((r) => (answer = r))));
    assert.equal(holders.announcesEndOf('g1'), false);
    model.end({ ...g1, status: 'expired' });
    // the grant's event is handled right after the change, while the clipboard is still being read
    assert.equal(holders.announcesEndOf('g1'), true);
    assert.equal(released.length, 0);
    answer(true);
    await settled();
    assert.equal(released.length, 1);
    assert.equal(holders.announcesEndOf('other'), false);
  });

  it('atTheEndTime_withoutAnyEvent_letsGoAsExpired_evenWhenTheServerIsUnreachable', async () => {
    const { model, holders, released, timers } = setup();
    const g1 = model.grants[0];
    const t = holder('terminal');
    holders.hold(g1, expiresAt(g1), t);
    model.disconnect();
    timers.advance(Date.parse(g1.expiresAt) - T0 - 1);
    assert.equal(t.released, 0);
    timers.advance(1000);
    await settled();
    assert.equal(t.released, 1);
    assert.deepEqual(released.map((r) => r.reason), ['expired']);
    assert.equal(timers.count, 0, 'no timer left once nothing is held');
  });

  it('extended_movesTheEnd_soNothingIsLetGoOfAtTheOldOne', async () => {
    const { model, holders, released, timers } = setup();
    const g1 = model.grants[0];
    const clip = holder('clipboard');
    holders.hold(g1, expiresAt(g1), clip);
    const later = Date.parse(g1.expiresAt) + 30 * 60_000;
    model.extend('g1', later);
    timers.advance(later - T0 - 1000);
    await settled();
    assert.equal(clip.released, 0);
    // the server's list no longer has it once it expired: the model prunes it at its end
    model.grants = [];
    timers.advance(2000);
    await settled();
    assert.equal(clip.released, 1);
    assert.deepEqual(released.map((r) => r.reason), ['expired']);
  });

  it('hold_ofAGrantThatEndedWhileItsCredentialsWereOnTheirWay_letsGoAtOnce', async () => {
    const { model, holders, released } = setup();
    const g1 = model.grants[0];
    model.end({ ...g1, status: 'revoked' });
    const t = holder('terminal');
    holders.hold(g1, expiresAt(g1), t);
    await settled();
    assert.equal(t.released, 1);
    assert.deepEqual(released.map((r) => [r.reason, r.terminals]), [['revoked', 1]]);
  });

  it('aHolderThatWentAwayByItself_isNotLetGoOfOrCounted', async () => {
    const { model, holders, released } = setup();
    const g1 = model.grants[0];
    const closedByUser = holder('terminal');
    const open = holder('terminal');
    holders.hold(g1, expiresAt(g1), closedByUser).dispose();
    holders.hold(g1, expiresAt(g1), open);
    model.end({ ...g1, status: 'relinquished' });
    await settled();
    assert.deepEqual([closedByUser.released, open.released], [0, 1]);
    assert.equal(released[0].terminals, 1);
  });

  it('nothingLeftHeld_afterTheLastHolderWentAway_noTimerAndNoRelease', async () => {
    const { model, holders, released, timers } = setup();
    const g1 = model.grants[0];
    holders.hold(g1, expiresAt(g1), holder('terminal')).dispose();
    assert.equal(timers.count, 0);
    model.end({ ...g1, status: 'expired' });
    await settled();
    assert.deepEqual(released, []);
    assert.equal(holders.announcesEndOf('g1'), false);
  });

  it('aHolderThatFailsToLetGo_countsAsNotReleased_andTheOthersStillAre', async () => {
    const { model, holders, released } = setup();
    const g1 = model.grants[0];
    const t = holder('terminal');
    holders.hold(g1, expiresAt(g1), holder('clipboard', () => Promise.reject(new Error('clipboard unavailable'))));
    holders.hold(g1, expiresAt(g1), t);
    model.end({ ...g1, status: 'expired' });
    await settled();
    assert.equal(t.released, 1);
    assert.deepEqual(released.map((r) => [r.terminals, r.clipboard]), [[1, false]]);
  });

  it('signedOutOrUnreachable_keepsHoldersUntilTheEnd_andDisposeLeavesNoTimer', async () => {
    const { model, holders, released, timers } = setup();
    const g1 = model.grants[0];
    holders.hold(g1, expiresAt(g1), holder('terminal'));
    model.grants = [];
    model.disconnect();
    await settled();
    assert.deepEqual(released, []);
    holders.dispose();
    assert.equal(timers.count, 0);
  });
});
