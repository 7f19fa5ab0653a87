import * as vscode from 'vscode';
import { Commands } from '../constants';
import { formatClockTime } from '../model/format';
import { registerCommand, type Deps } from './deps';

export function registerSignOut(deps: Deps): vscode.Disposable {
  return registerCommand(deps, Commands.signOut, async () => {
    const origin = deps.session.client?.origin;
    const { model } = deps;
    const now = model.now();
    const list = model.grants
      .map((g) => vscode.l10n.t('{0} ({1}) until {2}', model.resourceName(g.resourceId), g.role, formatClockTime(g.expiresAt, now)))
      .join(', ');
    await deps.session.signOut();
    if (!list) {
      vscode.window.setStatusBarMessage(vscode.l10n.t('$(sign-out) Signed out of {0}', origin ?? 'Elevate'), 5000);
      return;
    }
    // signing out here ends nothing on the server: say so, with when each access ends
    void vscode.window.showInformationMessage(
      vscode.l10n.t('Signed out of {0}. Your active access keeps running on the server until it ends: {1}.', origin ?? 'Elevate', list),
    );
  });
}
