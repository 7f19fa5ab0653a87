import * as vscode from 'vscode';
import { Commands } from '../constants';
import { client, pickRequest, registerCommand, withProgress, type Deps } from './deps';

export function registerCancelRequest(deps: Deps): vscode.Disposable {
  return registerCommand(deps, Commands.cancelRequest, async (arg?: unknown) => {
    const { model } = deps;
    const request = await pickRequest(deps, arg, model.myRequests, vscode.l10n.t('Which request do you want to withdraw?'), false);
    const cancelled = await withProgress(vscode.l10n.t('Cancelling request…'), () => client(deps).cancel(request.id));
    model.upsertRequest(cancelled);
    deps.notifier.markShown(`decided:${request.id}`);
    vscode.window.setStatusBarMessage(vscode.l10n.t('$(check) Request for {0} cancelled', model.resourceName(request.resourceId)), 5000);
    return cancelled;
  });
}
