// Notifications that appear once, in the focused window only (the rule is model/noticeGate.ts).
import * as vscode from 'vscode';
import { NoticeGate } from '../model/noticeGate';
import { Disposable, Emitter } from '../util/lifecycle';
import { logText } from '../../server/protocol/escape/logLine';

export interface Notice {
  /** identifies the notification across windows, e.g. `expiring:<grantId>:...:300` */
  key: string;
  severity: 'info' | 'warning' | 'error';
  message: string;
  actions?: { title: string; run: () => unknown }[];
  /** checked again before a deferred notice is shown */
  stillRelevant?: () => boolean;
}

export class Notifier extends Disposable {
  private readonly gate: NoticeGate<Notice>;
  private readonly notifyEmitter = this.register(new Emitter<Notice>());
  /** Every notice asked for, before the once-and-focused rule decides whether it shows (tests watch it). */
  readonly onDidNotify = this.notifyEmitter.event;

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
  }

  markShown(key: string): void {
    this.gate.markShown(key);
  }

  notify(notice: Notice): void {
    this.notifyEmitter.fire(notice);
    this.gate.notify(notice);
    if (this.gate.waiting && !vscode.window.state.focused) this.log.debug(`notification deferred until focus: ${notice.key}`);
  }

  private show(n: Notice): void {
    this.log.info(`notify: ${logText(n.message)}`);
    const titles = (n.actions ?? []).map((a) => a.title);
    const show = n.severity === 'error' ? vscode.window.showErrorMessage : n.severity === 'warning' ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
    void Promise.resolve(show(n.message, ...titles)).then((picked) => {
      const action = n.actions?.find((a) => a.title === picked);
      if (action) void Promise.resolve(action.run()).catch((err: unknown) => this.log.error(err instanceof Error ? err : String(err)));
    });
  }
}
