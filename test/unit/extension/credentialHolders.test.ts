import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Grant } from '../../../server/protocol';
import { ClipboardHold, SAVED_COPY_KEY } from '../../../extension/model/clipboardHold';
import { CredentialHolders, type Holder, type HolderKind, type HoldersModel, type Released } from '../../../extension/model/credentialHolders';
import { clipboardFingerprint } from '../../../extension/model/credentials';
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

function setup(grants: Grant[] = [grant({ id: 'g1' })], timers = new FakeTimers()) {
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
    assert.deepEqual(
      released.map(({ grant: g, ...rest }) => [g.id, g.status, rest]),
      [['g1', 'relinquished', { reason: 'relinquished', terminals: 2, clipboard: true }]],
    );
    assert.deepEqual(holders.holdersOf('g1'), []);
    assert.equal(holders.holdersOf('g2').length, 1);
  });

  it('clipboardChangedSince_isLeftAlone_andTheReleaseSaysSo', async () => {
    const { model, holders, released } = setup();
    const g1 = model.grants[0];
    holders.hold(
      g1,
      expiresAt(g1),
      holder('clipboard', async () => false),
    );
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
    holders.hold(
      g1,
      expiresAt(g1),
      holder('clipboard', () => new Promise<boolean>((r) => (answer = r))),
    );
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
    assert.deepEqual(
      released.map((r) => r.reason),
      ['expired'],
    );
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
    assert.deepEqual(
      released.map((r) => r.reason),
      ['expired'],
    );
  });

  it('hold_ofAGrantThatEndedWhileItsCredentialsWereOnTheirWay_letsGoAtOnce', async () => {
    const { model, holders, released } = setup();
    const g1 = model.grants[0];
    model.end({ ...g1, status: 'revoked' });
    const t = holder('terminal');
    holders.hold(g1, expiresAt(g1), t);
    await settled();
    assert.equal(t.released, 1);
    assert.deepEqual(
      released.map((r) => [r.reason, r.terminals]),
      [['revoked', 1]],
    );
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
    holders.hold(
      g1,
      expiresAt(g1),
      holder('clipboard', () => Promise.reject(new Error('clipboard unavailable'))),
    );
    holders.hold(g1, expiresAt(g1), t);
    model.end({ ...g1, status: 'expired' });
    await settled();
    assert.equal(t.released, 1);
    assert.deepEqual(
      released.map((r) => [r.terminals, r.clipboard]),
      [[1, false]],
    );
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

/** The editor's clipboard and secret storage, in memory; `failing` makes the storage throw. */
class FakeClipboard {
  text = '';
  readText = async () => this.text;
  writeText = async (t: string) => void (this.text = t);
}
class FakeSecrets {
  readonly map = new Map<string, string>();
  failing = false;
  private check() {
    if (this.failing) throw new Error('no keyring');
  }
  get = async (k: string) => (this.check(), this.map.get(k));
  store = async (k: string, v: string) => void (this.check(), this.map.set(k, v));
  delete = async (k: string) => void (this.check(), this.map.delete(k));
}

/** A window: its model, holders and clipboard hold over a clipboard and secret storage it shares with other windows. */
function windowOn(clipboard: FakeClipboard, secrets: FakeSecrets, grants: Grant[], timers = new FakeTimers()) {
  const w = setup(grants, timers);
  const logged: string[] = [];
  const log = { ...nullLogger, warn: (m: string) => void logged.push(m) };
  return { ...w, hold: new ClipboardHold(w.holders, clipboard, secrets, log), logged };
}

describe('ClipboardHold', () => {
  const URI = 'postgresql://elevate_alice_x:s3cret@db:5432/app';
  /** What windows share (the clipboard, the secret storage) and two grants of the signed-in user. */
  const world = () => ({
    clipboard: new FakeClipboard(),
    secrets: new FakeSecrets(),
    g1: grant({ id: 'g1' }),
    g2: grant({ id: 'g2', expiresAt: iso(T0 + 45 * 60_000) }),
  });

  it('copy_remembersAFingerprintNotTheText_andTheGrantsEndClearsTheClipboardAndForgetsIt', async () => {
    const { clipboard, secrets } = world();
    const w = windowOn(clipboard, secrets, [grant({ id: 'g1' })]);
    await w.hold.copy(w.model.grants[0], w.model.grants[0].expiresAt, URI);
    assert.equal(clipboard.text, URI);
    const saved = secrets.map.get(SAVED_COPY_KEY)!;
    assert.ok(!saved.includes('s3cret'), 'the copied text is not stored');
    assert.equal(JSON.parse(saved).fingerprint, clipboardFingerprint(URI));

    w.model.end({ ...w.model.grants[0], status: 'relinquished', endedBy: 'alice' });
    await settled();
    assert.equal(clipboard.text, '');
    assert.equal(secrets.map.size, 0);
    assert.deepEqual(
      w.released.map((r) => [r.reason, r.clipboard]),
      [['relinquished', true]],
    );
  });

  it('restore_afterAReload_grantEndedMeanwhile_clearsTheClipboardAtOnce', async () => {
    const { clipboard, secrets, g1 } = world();
    await windowOn(clipboard, secrets, [g1]).hold.copy(g1, g1.expiresAt, URI);
    // the window reloads after the grant's end; the new one is not signed in yet
    const timers = new FakeTimers(Date.parse(g1.expiresAt) + 60_000);
    const next = windowOn(clipboard, secrets, [], timers);
    next.model.state = 'connecting';
    assert.equal(await next.hold.restore(), true);
    await settled();
    assert.equal(clipboard.text, '');
    assert.equal(secrets.map.size, 0);
    assert.deepEqual(
      next.released.map((r) => [r.grant.id, r.reason, r.clipboard]),
      [['g1', 'expired', true]],
    );
  });

  it('restore_grantStillActive_holdsUntilItEnds_thenClears', async () => {
    const { clipboard, secrets, g1 } = world();
    await windowOn(clipboard, secrets, [g1]).hold.copy(g1, g1.expiresAt, URI);
    const next = windowOn(clipboard, secrets, [g1]);
    await next.hold.restore();
    await settled();
    assert.equal(clipboard.text, URI, 'still usable while the grant lasts');
    next.model.end({ ...g1, status: 'revoked', endedBy: 'bob', endReason: 'done' });
    await settled();
    assert.equal(clipboard.text, '');
    assert.equal(secrets.map.size, 0);
  });

  it('restore_revokedWhileNoWindowWasOpen_clearsOnceTheServerSaysItIsNotActive', async () => {
    const { clipboard, secrets, g1 } = world();
    await windowOn(clipboard, secrets, [g1]).hold.copy(g1, g1.expiresAt, URI);
    const next = windowOn(clipboard, secrets, []);
    next.model.state = 'connecting';
    await next.hold.restore();
    await settled();
    assert.equal(clipboard.text, URI, 'not before the server answered');
    next.model.state = 'ready'; // the first load: g1 is not among the active grants
    next.model.end({ ...g1, status: 'revoked' });
    await settled();
    assert.equal(clipboard.text, '');
  });

  it('restore_clipboardChangedMeanwhile_isLeftAlone_andTheCopyForgotten', async () => {
    const { clipboard, secrets, g1 } = world();
    await windowOn(clipboard, secrets, [g1]).hold.copy(g1, g1.expiresAt, URI);
    clipboard.text = 'the user copied this since';
    const next = windowOn(clipboard, secrets, [], new FakeTimers(Date.parse(g1.expiresAt) + 1000));
    await next.hold.restore();
    await settled();
    assert.equal(clipboard.text, 'the user copied this since');
    assert.equal(secrets.map.size, 0);
    assert.deepEqual(
      next.released.map((r) => r.clipboard),
      [false],
    );
  });

  it('restore_nothingOrGarbageRemembered_holdsNothing_andForgetsTheGarbage', async () => {
    const { clipboard, secrets } = world();
    const w = windowOn(clipboard, secrets, []);
    assert.equal(await w.hold.restore(), false);
    const bad = (over: object) => JSON.stringify({ grant: { id: 'g1', expiresAt: iso(T0) }, expiresAt: iso(T0), fingerprint: 'x', ...over });
    for (const garbage of [
      '{not json',
      'null',
      '[]',
      bad({ expiresAt: 'soon' }),
      bad({ grant: { id: 'g1' } }),
      bad({ grant: null }),
      bad({ fingerprint: 1 }),
    ]) {
      secrets.map.set(SAVED_COPY_KEY, garbage);
      assert.equal(await w.hold.restore(), false, garbage);
      assert.equal(secrets.map.size, 0, garbage);
    }
    assert.deepEqual(w.holders.holdersOf('g1'), []);
  });

  it('aCopyInAnotherWindowSince_isNotForgottenWhenThisWindowsCopyIsLetGoOf', async () => {
    const { clipboard, secrets, g1, g2 } = world();
    const a = windowOn(clipboard, secrets, [g1, g2]);
    const b = windowOn(clipboard, secrets, [g1, g2]);
    await a.hold.copy(g1, g1.expiresAt, URI);
    await b.hold.copy(g2, g2.expiresAt, 'postgresql://other');
    a.model.end({ ...g1, status: 'relinquished' });
    await settled();
    assert.equal(clipboard.text, 'postgresql://other', 'the newer copy stays');
    assert.equal(JSON.parse(secrets.map.get(SAVED_COPY_KEY)!).grant.id, 'g2', 'and stays remembered');
  });

  it('withoutSecretStorage_theHoldInThisWindowStillWorks_andTheProblemIsLogged', async () => {
    const { clipboard, secrets } = world();
    secrets.failing = true;
    const w = windowOn(clipboard, secrets, [grant({ id: 'g1' })]);
    await w.hold.copy(w.model.grants[0], w.model.grants[0].expiresAt, URI);
    assert.equal(await w.hold.restore(), false);
    w.model.end({ ...w.model.grants[0], status: 'relinquished' });
    await settled();
    assert.equal(clipboard.text, '');
    assert.ok(
      w.logged.some((m) => /could not remember the copy in the secret storage: no keyring/.test(m)),
      w.logged.join('\n'),
    );
  });

  it('restore_afterACopyInThisWindow_keepsTheNewerCopy', async () => {
    const { clipboard, secrets, g1, g2 } = world();
    await windowOn(clipboard, secrets, [g1, g2]).hold.copy(g1, g1.expiresAt, URI);
    const next = windowOn(clipboard, secrets, [g1, g2]);
    await next.hold.copy(g2, g2.expiresAt, 'postgresql://second'); // before the remembered copy was read
    assert.equal(await next.hold.restore(), false);
    assert.deepEqual(next.holders.holdersOf('g1'), []);
    assert.equal(next.holders.holdersOf('g2').length, 1);
  });

  it('aNewCopy_replacesTheHoldOfTheLastOne', async () => {
    const { clipboard, secrets, g1, g2 } = world();
    const w = windowOn(clipboard, secrets, [g1, g2]);
    await w.hold.copy(g1, g1.expiresAt, URI);
    await w.hold.copy(g2, g2.expiresAt, 'postgresql://second');
    assert.deepEqual(w.holders.holdersOf('g1'), []);
    w.model.end({ ...g1, status: 'relinquished' });
    await settled();
    assert.equal(clipboard.text, 'postgresql://second');
    assert.deepEqual(w.released, []);
  });
});
