import * as vscode from 'vscode';
import { Commands } from '../constants';
import { pickRequest, registerCommand, requestIdOf, type Deps } from './deps';

export function registerShowRequestDetail(deps: Deps): vscode.Disposable {
  return registerCommand(deps, Commands.showRequestDetail, async (arg?: unknown) => {
    const id =
      requestIdOf(arg) ?? (await pickRequest(deps, undefined, [...deps.model.reviewable, ...deps.model.myRequests], vscode.l10n.t('Which request?'), true)).id;
    await deps.showRequestDetail(id);
  });
}
