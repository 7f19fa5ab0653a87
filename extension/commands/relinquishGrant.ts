import * as vscode from 'vscode';
import { Commands } from '../constants';
import { Cancelled, client, pickGrant, registerCommand, withProgress, type Deps } from './deps';

export function registerRelinquishGrant(deps: Deps): vscode.Disposable {
  return registerCommand(deps, Commands.relinquishGrant, async (arg?: unknown, opts: { confirm?: boolean } = {}) => {
    const { model } = deps;
    const grant = await pickGrant(deps, arg, vscode.l10n.t('Which access do you want to give up?'));
    const name = model.resourceName(grant.resourceId);
    if (opts.confirm !== false) {
      const ok = vscode.l10n.t('Relinquish');
      const pick = await vscode.window.showWarningMessage(
        vscode.l10n.t('Give up your {0} access to {1} now?', grant.role, name),
        { modal: true, detail: vscode.l10n.t('You can request it again later.') },
        ok,
      );
      if (pick !== ok) throw new Cancelled();
    }
    const ended = await withProgress(vscode.l10n.t('Relinquishing access to {0}…', name), () => client(deps).relinquish(grant.id));
    model.upsertGrant(ended);
    vscode.window.setStatusBarMessage(vscode.l10n.t('$(check) Access to {0} relinquished', name), 5000);
    return ended;
  });
}
