// What holds a grant's credentials in this editor: terminals whose environment carries them, and the
// clipboard after Copy Credentials. CredentialHolders lets go of both when the grant ends: terminals
// close, and the clipboard is cleared if it still holds exactly what we put there (never something
// the user copied since), also after a reload (ClipboardHold). Values never reach the log.
import * as vscode from 'vscode';
import type { CredentialsResponse, Grant } from '../../server/protocol';
import { ClipboardHold } from '../model/clipboardHold';
import { CredentialHolders } from '../model/credentialHolders';
import { terminalEnv, terminalName } from '../model/credentials';
import { formatClockTime } from '../model/format';
import type { ElevateModel } from '../model/model';
import { realTimers, type IDisposable } from '../util/lifecycle';

export class GrantCredentials extends CredentialHolders<ElevateModel> {
  /** open credential terminals, each with its grant and hold */
  private readonly terminals = new Map<vscode.Terminal, { grantId: string; hold: IDisposable }>();
  private readonly clipboard: ClipboardHold;

  constructor(model: ElevateModel, log: vscode.LogOutputChannel, secrets: vscode.SecretStorage) {
    super(model, realTimers, log);
    this.clipboard = new ClipboardHold(this, vscode.env.clipboard, secrets, log);
    this.register(vscode.window.onDidCloseTerminal((t) => {
      this.terminals.get(t)?.hold.dispose();
      this.terminals.delete(t);
    }));
  }

  /** Opens a terminal whose environment carries the credentials; it closes when the grant ends. */
  openTerminal(grant: Grant, creds: CredentialsResponse): vscode.Terminal {
    const expiresAt = creds.expiresAt > grant.expiresAt ? creds.expiresAt : grant.expiresAt;
    const terminal = vscode.window.createTerminal({
      name: terminalName(this.model.resourceName(grant.resourceId), grant.role, formatClockTime(expiresAt, this.model.now())),
      env: terminalEnv(creds.credentials),
      iconPath: new vscode.ThemeIcon('shield'),
      color: new vscode.ThemeColor('terminal.ansiYellow'),
      // never restored after a reload: the credentials die with the grant
      isTransient: true,
    });
    this.log.info(`opened a terminal for grant ${grant.id} (${Object.keys(terminalEnv(creds.credentials)).sort().join(', ')}; values not logged)`);
    const hold = this.hold(grant, creds.expiresAt, {
      kind: 'terminal',
      release: () => {
        terminal.dispose();
        return true;
      },
    });
    // onDidCloseTerminal removes it, however it closes
    this.terminals.set(terminal, { grantId: grant.id, hold });
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
