// Notifications that appear once, in the focused window only. Every window of the user receives
// the same live events; the focused one shows the notification and records its key in the
// (cross-window) global state. An unfocused window keeps it until it gains focus, and shows it
// then only if no other window has and it is still relevant.
import * as vscode from 'vscode';
import { Disposable } from '../util/lifecycle';

export interface Notice {
  /** identifies the notification across windows, e.g. `expiring:<grantId>:300` */
  key: string;
  severity: 'info' | 'warning' | 'error';
  message: string;
  actions?: { title: string; run: () => unknown }[];
  /** checked again before a deferred notice is shown */
  stillRelevant?: () => boolean;
}

const SHOWN_KEY = 'elevate.shownNotices';
const KEEP_MS = 24 * 3600_000;
const MAX_PENDING = 20;

export class Notifier extends Disposable {
  private pending: Notice[] = [];
  /** keys this window showed or saw shown (fast path before global state) */
  private readonly local = new Set<string>();

  constructor(
    private readonly globalState: vscode.Memento,
    private readonly log: vscode.LogOutputChannel,
  ) {
    super();
    this.register(vscode.window.onDidChangeWindowState((s) => s.focused && this.flush()));
  }

  /** Marks a notice as already shown, e.g. when the command that caused it showed the result. */
  markShown(key: string): void {
    this.local.add(key);
    void this.record(key);
  }

  notify(notice: Notice): void {
    if (this.wasShown(notice.key)) return;
    if (vscode.window.state.focused) {
      this.show(notice);
    } else {
      this.pending = [...this.pending.filter((n) => n.key !== notice.key), notice].slice(-MAX_PENDING);
      this.log.debug(`notification deferred until focus: ${notice.key}`);
    }
  }

  private flush(): void {
    const due = this.pending;
    this.pending = [];
    for (const n of due) if (!this.wasShown(n.key) && (n.stillRelevant?.() ?? true)) this.show(n);
  }

  private wasShown(key: string): boolean {
    if (this.local.has(key)) return true;
    const shown = this.globalState.get<Record<string, number>>(SHOWN_KEY, {});
    return key in shown;
  }

  private async record(key: string): Promise<void> {
    const now = Date.now();
    const shown = { ...this.globalState.get<Record<string, number>>(SHOWN_KEY, {}) };
    for (const [k, at] of Object.entries(shown)) if (now - at > KEEP_MS) delete shown[k];
    shown[key] = now;
    await this.globalState.update(SHOWN_KEY, shown);
  }

  private show(n: Notice): void {
    this.local.add(n.key);
    void this.record(n.key);
    this.log.info(`notify: ${n.message}`);
    const titles = (n.actions ?? []).map((a) => a.title);
    const show = n.severity === 'error' ? vscode.window.showErrorMessage : n.severity === 'warning' ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
    void Promise.resolve(show(n.message, ...titles)).then((picked) => {
      const action = n.actions?.find((a) => a.title === picked);
      if (action) void Promise.resolve(action.run()).catch((err) => this.log.error(err instanceof Error ? err : String(err)));
    });
  }
}
