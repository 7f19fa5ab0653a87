import type * as vscode from 'vscode';
import { Commands } from '../constants';
import { client, registerCommand, type Deps } from './deps';

export function registerShowAuditLog(deps: Deps): vscode.Disposable {
  return registerCommand(deps, Commands.showAuditLog, () => {
    client(deps); // signed-in check, reported like any other failure
    deps.showAuditLog();
  });
}
