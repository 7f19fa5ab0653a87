import * as vscode from 'vscode';
import { MAX_TEXT } from '../../server/protocol';
import { Commands } from '../constants';
import { requestTitle } from '../views/describe';
import { Cancelled, client, pickRequest, registerCommand, withProgress, type Deps } from './deps';

export function registerDenyRequest(deps: Deps): vscode.Disposable {
  return registerCommand(deps, Commands.denyRequest, async (arg?: unknown, opts: { reason?: string } = {}) => {
    const { model } = deps;
    const request = await pickRequest(deps, arg, model.reviewable, vscode.l10n.t('Which request do you deny?'), true);
    const title = `${request.requesterId}: ${requestTitle(request, model.resourceName(request.resourceId))}`;
    let reason = opts.reason?.trim();
    if (!reason) {
      const typed = await vscode.window.showInputBox({
        title: vscode.l10n.t('Deny {0}', title),
        prompt: vscode.l10n.t('Reason (required; {0} sees it)', request.requesterId),
        validateInput: (v) =>
          !v.trim() ? vscode.l10n.t('A reason is required.') : v.length > MAX_TEXT ? vscode.l10n.t('At most {0} characters.', MAX_TEXT) : undefined,
      });
      if (typed === undefined) throw new Cancelled();
      reason = typed.trim();
    }
    const denied = await withProgress(vscode.l10n.t('Denying…'), () => client(deps).deny(request.id, reason!));
    model.upsertRequest(denied);
    vscode.window.setStatusBarMessage(`$(close) ${vscode.l10n.t('Denied {0}', title)}`, 5000);
    return denied;
  });
}
