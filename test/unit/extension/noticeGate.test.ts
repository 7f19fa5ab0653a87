import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NoticeGate, type GateNotice, type SharedStore } from '../../../extension/model/noticeGate';

/** One store shared by several "windows", like VS Code's globalState. */
class Store implements SharedStore {
  data = new Map<string, Record<string, number>>();
  get = (k: string) => this.data.get(k);
  update = (k: string, v: Record<string, number>) => {
    this.data.set(k, v);
  };
}

const windowOn = (store: Store, focused: { value: boolean }) => {
  const shown: string[] = [];
  const gate = new NoticeGate<GateNotice>(
    store,
    () => focused.value,
    (n) => shown.push(n.key),
  );
  return { gate, shown, focused };
};

describe('NoticeGate', () => {
  it('notify_inTheFocusedWindow_showsAtOnce_andOnlyOnce', () => {
    const w = windowOn(new Store(), { value: true });
    w.gate.notify({ key: 'a' });
    w.gate.notify({ key: 'a' });
    assert.deepEqual(w.shown, ['a']);
  });
  it('notify_twoWindows_onlyTheFocusedOneShows_andTheOtherNeverDoes', () => {
    const store = new Store();
    const focusedWin = windowOn(store, { value: true });
    const otherWin = windowOn(store, { value: false });
    focusedWin.gate.notify({ key: 'x' });
    otherWin.gate.notify({ key: 'x' });
    otherWin.focused.value = true;
    otherWin.gate.focused();
    assert.deepEqual(focusedWin.shown, ['x']);
    assert.deepEqual(otherWin.shown, []);
  });
  it('notify_noWindowFocused_showsWhenOneGainsFocus_ifStillRelevant', () => {
    const store = new Store();
    const a = windowOn(store, { value: false });
    const b = windowOn(store, { value: false });
    for (const w of [a, b]) {
      w.gate.notify({ key: 'keep', stillRelevant: () => true });
      w.gate.notify({ key: 'stale', stillRelevant: () => false });
    }
    b.focused.value = true;
    b.gate.focused();
    a.focused.value = true;
    a.gate.focused();
    assert.deepEqual(b.shown, ['keep']);
    assert.deepEqual(a.shown, [], 'already shown in b');
  });
  it('markShown_silencesTheLiveEventForAnOutcomeTheUserAlreadySaw', () => {
    const w = windowOn(new Store(), { value: true });
    w.gate.markShown('decided:r1');
    w.gate.notify({ key: 'decided:r1' });
    assert.deepEqual(w.shown, []);
  });
  it('sharedStore_forgetsKeysAfterADay', () => {
    const store = new Store();
    let now = 0;
    const gate = new NoticeGate<GateNotice>(
      store,
      () => true,
      () => {},
      () => now,
    );
    gate.markShown('old');
    now = 25 * 3600_000;
    gate.markShown('new');
    assert.deepEqual(Object.keys(store.get('elevate.shownNotices') ?? {}), ['new']);
  });
});
