import * as vscode from 'vscode';
import { Commands, EXTENSION_ID } from '../constants';
import { registerCommand, type Deps } from './deps';

export function registerOpenSettings(deps: Deps): vscode.Disposable {
  return registerCommand(deps, Commands.openSettings, () => vscode.commands.executeCommand('workbench.action.openSettings', `@ext:${EXTENSION_ID}`));
}

export function registerShowLog(deps: Deps): vscode.Disposable {
  return registerCommand(deps, Commands.showLog, () => deps.log.show(true));
}
