// Terminals that carry a grant's credentials in their environment. Each is closed when its grant
// ends, whatever ended it (expiry, revocation, relinquish, failed provisioning), with a notification
// that says why. Closing also happens at the grant's end time when the server cannot be reached:
// the credentials stop working then anyway.
import * as vscode from 'vscode';
import type { CredentialsResponse, Grant } from '../../server/protocol';
import { closedMessage, decideTerminals, terminalEnv, terminalName, type EndReason } from '../model/credentials';
import { formatClockTime } from '../model/format';
import type { ElevateModel } from '../model/model';
import { Disposable } from '../util/lifecycle';

interface Tracked {
  grantId: string;
  expiresAt: number;
  access: string;
}

export class GrantTerminals extends Disposable {
  private readonly terminals = new Map<vscode.Terminal, Tracked>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly model: ElevateModel,
    private readonly log: vscode.LogOutputChannel,
  ) {
    super();
    this.register(model.onDidChange((kinds) => (kinds.has('grants') || kinds.has('connection')) && this.check()));
    this.register(model.onDidReceiveEvent(() => this.check()));
    this.register(vscode.window.onDidCloseTerminal((t) => {
      if (this.terminals.delete(t)) this.schedule();
    }));
    this.register({ dispose: () => clearTimeout(this.timer) });
  }

  /** Opens a terminal whose environment carries the credentials; it closes when the grant ends. */
  open(grant: Grant, creds: CredentialsResponse): vscode.Terminal {
    const resource = this.model.resourceName(grant.resourceId);
    const expiresAt = creds.expiresAt > grant.expiresAt ? creds.expiresAt : grant.expiresAt;
    const terminal = vscode.window.createTerminal({
      name: terminalName(resource, grant.role, formatClockTime(expiresAt, this.model.now())),
      env: terminalEnv(creds.credentials),
      iconPath: new vscode.ThemeIcon('shield'),
      color: new vscode.ThemeColor('terminal.ansiYellow'),
      // never restored after a reload: the credentials die with the grant
      isTransient: true,
    });
    this.terminals.set(terminal, { grantId: grant.id, expiresAt: Date.parse(expiresAt), access: `${grant.role} access to ${resource}` });
    this.log.info(`opened a terminal for grant ${grant.id} (${Object.keys(terminalEnv(creds.credentials)).sort().join(', ')}; values not logged)`);
    this.schedule();
    // the grant may have ended while the credentials were on their way
    this.check();
    return terminal;
  }

  /** Terminals open for a grant (for tests and the actions list). */
  terminalsOf(grantId: string): vscode.Terminal[] {
    return [...this.terminals].filter(([, t]) => t.grantId === grantId).map(([term]) => term);
  }

  private check(): void {
    if (!this.terminals.size) return;
    const byGrant = new Map<string, Tracked>();
    for (const t of this.terminals.values()) byGrant.set(t.grantId, t);
    const model = this.model;
    const decisions = decideTerminals([...byGrant.values()], {
      now: model.now(),
      authoritative: model.state === 'ready',
      active: model.grants,
      ended: (id) => model.endedGrant(id),
    });
    for (const d of decisions) {
      const mine = [...this.terminals].filter(([, t]) => t.grantId === d.grantId);
      if (d.action === 'extend') {
        for (const [, t] of mine) t.expiresAt = d.expiresAt;
        continue;
      }
      for (const [term] of mine) {
        this.terminals.delete(term);
        term.dispose();
      }
      this.announce(d.reason, mine[0][1], mine.length);
    }
    this.schedule();
  }

  private announce(reason: EndReason, t: Tracked, count: number): void {
    const by = this.model.endedGrant(t.grantId)?.endedBy;
    this.log.info(`closed ${count} terminal(s) of grant ${t.grantId}: ${reason}`);
    const message = vscode.l10n.t('Elevate: {0}', closedMessage(reason, t.access, count, by));
    if (reason === 'relinquished') void vscode.window.showInformationMessage(message);
    else void vscode.window.showWarningMessage(message);
  }

  /** Wakes up just after the earliest end, in case no event or refresh says so first. */
  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.isDisposed || !this.terminals.size) return;
    const next = Math.min(...[...this.terminals.values()].map((t) => t.expiresAt));
    const delay = Math.max(0, next - this.model.now()) + 250;
    this.timer = setTimeout(() => this.check(), Math.min(delay, 2 ** 31 - 1));
  }
}
