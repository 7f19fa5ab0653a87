import * as vscode from 'vscode';
import { Commands } from '../constants';
import { requestTitle } from '../views/describe';
import { Cancelled, client, pickRequest, registerCommand, withProgress, type Deps } from './deps';

export function registerCancelRequest(deps: Deps): vscode.Disposable {
  return registerCommand(deps, Commands.cancelRequest, async (arg?: unknown, opts: { confirm?: boolean } = {}) => {
    const { model } = deps;
    const request = await pickRequest(deps, arg, model.myRequests, vscode.l10n.t('Which request do you want to withdraw?'), false);
    // it sits next to "Show Request": ask once, like Relinquish
    if (opts.confirm !== false) {
      const ok = vscode.l10n.t('Cancel Request');
      const pick = await vscode.window.showWarningMessage(
        vscode.l10n.t('Cancel your request {0}?', requestTitle(request, model.resourceName(request.resourceId))),
        { modal: true, detail: vscode.l10n.t('Approvers will no longer see it. You can request again later.') },
        ok,
      );
      if (pick !== ok) throw new Cancelled();
    }
    const cancelled = await withProgress(vscode.l10n.t('Cancelling request…'), () => client(deps).cancel(request.id));
    model.upsertRequest(cancelled);
    deps.notifier.markShown(`decided:${request.id}`);
    vscode.window.setStatusBarMessage(vscode.l10n.t('$(check) Request for {0} cancelled', model.resourceName(request.resourceId)), 5000);
    return cancelled;
  });
}
