import * as vscode from 'vscode';
import { Commands } from '../constants';
import { registerCommand, type Deps } from './deps';

/** Also the "Retry" of the unreachable/error welcome views. */
export function registerRefresh(deps: Deps): vscode.Disposable {
  return registerCommand(deps, Commands.refresh, async () => {
    const { model, session } = deps;
    if (!session.client || model.state === 'signedOut') return session.start();
    model.reconnect();
    await vscode.window.withProgress({ location: { viewId: 'elevate.myAccess' } }, () => model.refresh());
  });
}
