// Copy Link for Approver (a link that opens the request's detail in the approver's editor, through
// the URI handler in extension.ts) and Copy Id (requests and grants), for chat and tickets.
import * as vscode from 'vscode';
import { Commands, EXTENSION_ID } from '../constants';
import { grantIdOf, registerCommand, requestIdOf, type Deps } from './deps';
import { ApiError } from '../api/errors';

/** `vscode://elevate.elevate/request?id=…` (the scheme of this editor: forks have their own). */
export function requestLink(requestId: string): string {
  return `${vscode.env.uriScheme}://${EXTENSION_ID}/request?id=${encodeURIComponent(requestId)}`;
}

export function registerCopyRequestLink(deps: Deps): vscode.Disposable {
  return registerCommand(deps, Commands.copyRequestLink, async (arg?: unknown) => {
    const id = requestIdOf(arg);
    if (!id) throw new ApiError(400, 'invalid_request', vscode.l10n.t('Pick a request to copy the link of.'));
    const link = requestLink(id);
    await vscode.env.clipboard.writeText(link);
    vscode.window.setStatusBarMessage(vscode.l10n.t('$(link) Link to the request copied: send it to an approver'), 5000);
    return link;
  });
}

export function registerCopyId(deps: Deps): vscode.Disposable {
  return registerCommand(deps, Commands.copyId, async (arg?: unknown) => {
    const isGrant = typeof arg === 'object' && arg !== null && 'grant' in arg;
    const id = isGrant ? grantIdOf(arg) : requestIdOf(arg);
    if (!id) throw new ApiError(400, 'invalid_request', vscode.l10n.t('Pick a request or grant to copy the id of.'));
    await vscode.env.clipboard.writeText(id);
    vscode.window.setStatusBarMessage(vscode.l10n.t('$(copy) Copied {0}', id), 5000);
    return id;
  });
}
