// Notifications that appear once, in the focused window only (the rule is model/noticeGate.ts),
// and that never outlive the truth they tell.
//
// VS Code cannot close an ordinary notification, so one whose subject can still change (a request
// waiting for a decision, a grant about to end, access being set up) is shown as a progress
// notification, which closes when its task ends: its actions are links in its message, and it is
// closed as soon as `stillRelevant()` turns false (checked on every model change) or when a later
// notice about the same subject replaces it. Outcomes (approved, denied, ended) are ordinary
// notifications whose buttons stay valid whatever happens next.
import * as vscode from 'vscode';
import { CONFIG_SECTION, Commands, Settings } from '../constants';
import { NoticeGate } from '../model/noticeGate';
import { inertNotificationText, MUTABLE_KINDS, type MutableKind } from '../model/notices';
import { Disposable, Emitter } from '../util/lifecycle';
import { logText } from '../../server/protocol/escape/logLine';

export interface NoticeAction {
  title: string;
  run: () => unknown;
}

export interface Notice {
  /** identifies the notification across windows, e.g. `expiring:<grantId>:...:300` */
  key: string;
  /** what a person mutes with "Don't Show Again" or `elevate.notifications.muted` */
  kind: MutableKind;
  severity: 'info' | 'warning' | 'error';
  message: string;
  actions?: NoticeAction[];
  /**
   * Given for a notice about a state that can still change: it is shown so that it can be closed,
   * and closed as soon as this turns false. Also checked before a deferred notice is shown.
   */
  stillRelevant?: () => boolean;
  /** e.g. `request:<id>`: a later notice about the same subject replaces this one */
  subject?: string;
}

/** A notice on screen, as the extension's tests see it. */
export interface OpenNotice {
  /** its id in this window: `elevate.noticeAction` with [id, action index] runs an action, as its links do */
  id: number;
  key: string;
  kind: MutableKind;
  message: string;
  actions: string[];
}

interface Shown {
  notice: Notice;
  close(): void;
}

const DONT_SHOW = () => vscode.l10n.t("Don't Show Again");
const DISMISS = () => vscode.l10n.t('Dismiss');

export class Notifier extends Disposable {
  private readonly gate: NoticeGate<Notice>;
  private readonly notifyEmitter = this.register(new Emitter<Notice>());
  /** Every notice asked for, before the once-and-focused rule decides whether it shows (tests watch it). */
  readonly onDidNotify = this.notifyEmitter.event;
  private readonly showEmitter = this.register(new Emitter<Notice>());
  /** Every notice actually shown in this window (after muting and the once-and-focused rule). */
  readonly onDidShow = this.showEmitter.event;
  /** closable notices on screen, by a per-window id (used in their action links) */
  private readonly open = new Map<number, Shown>();
  private nextId = 1;

  constructor(
    globalState: vscode.Memento,
    private readonly log: vscode.LogOutputChannel,
  ) {
    super();
    this.gate = new NoticeGate<Notice>(
      { get: (k) => globalState.get<Record<string, number>>(k), update: (k, v) => globalState.update(k, v) },
      () => vscode.window.state.focused,
      (n) => this.show(n),
    );
    this.register(vscode.window.onDidChangeWindowState((s) => s.focused && this.gate.focused()));
    // the links in closable notices: [id, action index] (-2: don't show again)
    this.register(
      vscode.commands.registerCommand(Commands.noticeAction, (id: unknown, index: unknown) => {
        const shown = typeof id === 'number' ? this.open.get(id) : undefined;
        if (!shown || typeof index !== 'number') return;
        shown.close();
        if (index === -2) return this.mute(shown.notice.kind);
        const action = shown.notice.actions?.[index];
        if (action) this.runAction(action);
      }),
    );
    this.register({
      dispose: () => {
        for (const s of [...this.open.values()]) s.close();
      },
    });
  }

  markShown(key: string): void {
    this.gate.markShown(key);
  }

  notify(notice: Notice): void {
    this.notifyEmitter.fire(notice);
    if (this.isMuted(notice.kind)) {
      this.log.debug(`notification muted (${notice.kind}): ${notice.key}`);
      return;
    }
    this.gate.notify(notice);
    if (this.gate.waiting && !vscode.window.state.focused) this.log.debug(`notification deferred until focus: ${notice.key}`);
  }

  /** Closes every closable notice whose subject changed. Call after each model change. */
  recheck(): void {
    for (const s of [...this.open.values()]) if (s.notice.stillRelevant && !s.notice.stillRelevant()) s.close();
  }

  /** The closable notices on screen now (for tests). */
  get openNotices(): OpenNotice[] {
    return [...this.open.entries()].map(([id, { notice: n }]) => ({
      id,
      key: n.key,
      kind: n.kind,
      message: n.message,
      actions: (n.actions ?? []).map((a) => a.title),
    }));
  }

  private isMuted(kind: MutableKind): boolean {
    const muted = vscode.workspace.getConfiguration(CONFIG_SECTION).get<unknown>(Settings.mutedNotifications);
    return Array.isArray(muted) && muted.includes(kind);
  }

  private mute(kind: MutableKind): void {
    const config = vscode.workspace.getConfiguration(CONFIG_SECTION);
    const muted = config.get<unknown>(Settings.mutedNotifications);
    const next = [...new Set([...(Array.isArray(muted) ? muted.filter((k): k is string => typeof k === 'string') : []), kind])];
    void Promise.resolve(config.update(Settings.mutedNotifications, next, vscode.ConfigurationTarget.Global)).then(() =>
      vscode.window.setStatusBarMessage(
        vscode.l10n.t('$(bell-slash) Elevate will not show "{0}" again (setting elevate.notifications.muted)', MUTABLE_KINDS[kind]),
        6000,
      ),
    );
  }

  private runAction(action: NoticeAction): void {
    void Promise.resolve()
      .then(() => action.run())
      .catch((err: unknown) => this.log.error(err instanceof Error ? err : String(err)));
  }

  private show(n: Notice): void {
    this.log.info(`notify: ${logText(n.message)}`);
    this.showEmitter.fire(n);
    if (n.subject) for (const s of [...this.open.values()]) if (s.notice.subject === n.subject) s.close();
    // our own links are added after this (closable notices); nothing in the text itself may link
    n = { ...n, message: inertNotificationText(n.message) };
    if (n.stillRelevant) return this.showClosable(n);
    const titles = (n.actions ?? []).map((a) => a.title);
    const show =
      n.severity === 'error'
        ? vscode.window.showErrorMessage
        : n.severity === 'warning'
          ? vscode.window.showWarningMessage
          : vscode.window.showInformationMessage;
    void Promise.resolve(show(n.message, ...titles, DONT_SHOW())).then((picked) => {
      if (picked === DONT_SHOW()) return this.mute(n.kind);
      const action = n.actions?.find((a) => a.title === picked);
      if (action) this.runAction(action);
    });
  }

  private showClosable(n: Notice): void {
    const id = this.nextId++;
    const link = (title: string, index: number) => {
      const label = title.replace(/[[\]"]/g, '');
      return `[${label}](command:${Commands.noticeAction}?${encodeURIComponent(JSON.stringify([id, index]))} "${label}")`;
    };
    const links = [...(n.actions ?? []).map((a, i) => link(a.title, i)), link(DONT_SHOW(), -2)];
    let close!: () => void;
    const closed = new Promise<void>((resolve) => (close = resolve));
    const shown: Shown = {
      notice: n,
      close: () => {
        if (this.open.delete(id)) this.log.debug(`notification closed: ${n.key}`);
        close();
      },
    };
    this.open.set(id, shown);
    void vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `${n.message} ${links.join(' · ')}`,
        // The workbench labels the cancel button with a string given here ("Dismiss", not
        // "Cancel", which next to "Waiting for approval" reads as cancelling the request); a
        // button also keeps the notification expanded, so the action links are not cut off.
        // An editor that only knows booleans shows its own "Cancel", which dismisses just the same.
        cancellable: DISMISS() as unknown as boolean,
      },
      (_progress, token) => {
        token.onCancellationRequested(() => shown.close());
        return closed;
      },
    );
  }
}
