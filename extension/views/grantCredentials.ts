// What holds a grant's credentials in this editor: terminals whose environment carries them, and the
// clipboard after Copy Credentials. CredentialHolders lets go of both when the grant ends: terminals
// end their shell and stay open to be read (views/grantTerminal.ts), and the clipboard is cleared if it still holds exactly what we put there (never something
// the user copied since), also after a reload (ClipboardHold). Values never reach the log.
import * as vscode from 'vscode';
import type { CredentialsResponse, Grant } from '../../server/protocol';
import { ClipboardHold } from '../model/clipboardHold';
import { CredentialHolders } from '../model/credentialHolders';
import { terminalEnv, terminalName } from '../model/credentials';
import { formatClockTime } from '../model/format';
import type { ElevateModel } from '../model/model';
import { realTimers, type IDisposable } from '../util/lifecycle';
import { openGrantTerminal } from './grantTerminal';

export class GrantCredentials extends CredentialHolders<ElevateModel> {
  /** open credential terminals, each with its grant and hold */
  private readonly terminals = new Map<vscode.Terminal, { grantId: string; hold: IDisposable; closed(): void }>();
  private readonly clipboard: ClipboardHold;

  constructor(model: ElevateModel, log: vscode.LogOutputChannel, secrets: vscode.SecretStorage) {
    super(model, realTimers, log);
    this.clipboard = new ClipboardHold(this, vscode.env.clipboard, secrets, log);
    this.register(
      vscode.window.onDidCloseTerminal((t) => {
        const open = this.terminals.get(t);
        open?.hold.dispose();
        open?.closed();
        this.terminals.delete(t);
      }),
    );
  }

  /**
   * Opens a terminal whose environment carries the credentials. When the grant ends, its shell is
   * ended and the terminal stays open to be read (where a POSIX sh exists; else it closes).
   */
  openTerminal(grant: Grant, creds: CredentialsResponse): vscode.Terminal {
    const expiresAt = creds.expiresAt > grant.expiresAt ? creds.expiresAt : grant.expiresAt;
    const env = terminalEnv(creds.credentials);
    const opened = openGrantTerminal({
      name: terminalName(this.model.resourceName(grant.resourceId), grant.role, formatClockTime(expiresAt, this.model.now())),
      env,
      log: this.log,
    });
    const { terminal } = opened;
    this.log.info(`opened a terminal for grant ${grant.id} (${Object.keys(env).sort().join(', ')}; values not logged)`);
    const hold = this.hold(grant, creds.expiresAt, {
      kind: 'terminal',
      release: () => {
        // when the server says it ended (revoked, relinquished, expired), else now (its end time passed)
        const now = this.model.now();
        const at = this.model.endedGrant(grant.id)?.endedAt ?? now;
        return opened.end(
          vscode.l10n.t('Access ended at {0} — credentials removed. This terminal is read-only now; close it when you are done.', formatClockTime(at, now)),
        );
      },
    });
    // onDidCloseTerminal removes it, however it closes
    this.terminals.set(terminal, { grantId: grant.id, hold, closed: opened.closed });
    return terminal;
  }

  /** Puts `text` on the clipboard and clears it when the grant ends, if it still holds that text then. */
  copyToClipboard(grant: Grant, expiresAt: string, text: string): Promise<void> {
    return this.clipboard.copy(grant, expiresAt, text);
  }

  /** Takes over the hold of credentials copied before this window started (see ClipboardHold). */
  restoreClipboardHold(): Promise<boolean> {
    return this.clipboard.restore();
  }

  /** Terminals open for a grant (for tests and the actions list). */
  terminalsOf(grantId: string): vscode.Terminal[] {
    return [...this.terminals].filter(([, t]) => t.grantId === grantId).map(([terminal]) => terminal);
  }
}
