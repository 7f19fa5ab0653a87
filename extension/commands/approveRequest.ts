import * as vscode from 'vscode';
import { MAX_TEXT } from '../../server/protocol';
import { Commands } from '../constants';
import { requestTitle } from '../views/describe';
import { Cancelled, client, pickRequest, registerCommand, withProgress, type Deps } from './deps';

export function registerApproveRequest(deps: Deps): vscode.Disposable {
  return registerCommand(deps, Commands.approveRequest, async (arg?: unknown, opts: { comment?: string } = {}) => {
    const { model } = deps;
    const request = await pickRequest(deps, arg, model.reviewable, vscode.l10n.t('Which request do you approve?'), true);
    const title = `${request.requesterId}: ${requestTitle(request, model.resourceName(request.resourceId))}`;
    let comment = opts.comment;
    if (comment === undefined) {
      const typed = await vscode.window.showInputBox({
        title: vscode.l10n.t('Approve {0}', title),
        prompt: vscode.l10n.t('Comment for {0} (optional)', request.requesterId),
        validateInput: (v) => (v.length > MAX_TEXT ? vscode.l10n.t('At most {0} characters.', MAX_TEXT) : undefined),
      });
      if (typed === undefined) throw new Cancelled();
      comment = typed.trim() || undefined;
    }
    const result = await withProgress(vscode.l10n.t('Approving…'), () => client(deps).approve(request.id, comment));
    model.upsertRequest(result.request);
    const approvals = result.request.approvals.filter((a) => a.decision === 'approve').length;
    const message =
      result.request.status === 'approved'
        ? vscode.l10n.t('Approved {0}', title)
        : vscode.l10n.t('Approved {0} ({1} of {2} approvals)', title, approvals, result.request.requiredApprovals);
    vscode.window.setStatusBarMessage(`$(check) ${message}`, 5000);
    return result;
  });
}
