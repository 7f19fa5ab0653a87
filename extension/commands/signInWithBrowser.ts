// Elevate: Sign In with Your Company Account — the one-click sign-in of the welcome views when the
// server offers an identity provider: the same device flow as the Accounts menu's "Elevate".
import * as vscode from 'vscode';
import { Commands } from '../constants';
import { SignInCancelled } from '../auth/deviceFlow';
import type { ElevateAuthProvider } from '../auth/provider';
import { Cancelled, registerCommand, type Deps } from './deps';

export function registerSignInWithBrowser(deps: Deps, auth: ElevateAuthProvider): vscode.Disposable {
  return registerCommand(deps, Commands.signInWithBrowser, async () => {
    try {
      const session = await auth.createSession();
      void vscode.window.showInformationMessage(vscode.l10n.t('Signed in to Elevate as {0}.', session.account.label));
    } catch (err) {
      if (err instanceof SignInCancelled) throw new Cancelled();
      throw err;
    }
  });
}
