import * as vscode from 'vscode';
import { Commands } from '../constants';
import { registerCommand, type Deps } from './deps';

export function registerSignOut(deps: Deps): vscode.Disposable {
  return registerCommand(deps, Commands.signOut, async () => {
    const origin = deps.session.client?.origin;
    await deps.session.signOut();
    vscode.window.setStatusBarMessage(vscode.l10n.t('$(sign-out) Signed out of {0}', origin ?? 'Elevate'), 5000);
  });
}
