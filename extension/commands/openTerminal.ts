// Elevate: Open Terminal with Grant — a terminal whose environment carries an active grant's
// credentials (PGHOST, PGUSER, PGPASSWORD, … for a database), named after the grant and closed
// when the grant ends (views/grantCredentials.ts).
import * as vscode from 'vscode';
import { Commands } from '../constants';
import { fetchCredentials } from '../model/credentials';
import { client, pickGrant, registerCommand, withProgress, type Deps } from './deps';

export function registerOpenTerminal(deps: Deps): vscode.Disposable {
  return registerCommand(deps, Commands.openTerminal, async (arg?: unknown) => {
    const { model } = deps;
    const grant = await pickGrant(deps, arg, vscode.l10n.t('Open a terminal with which access?'));
    const name = model.resourceName(grant.resourceId);
    const creds = await withProgress(vscode.l10n.t('Fetching credentials for {0}…', name), () =>
      fetchCredentials(() => client(deps).credentials(grant.id), vscode.l10n.t('your {0} access to {1}', grant.role, name)),
    );
    const terminal = deps.credentials.openTerminal(model.grant(grant.id) ?? grant, creds);
    deps.grantTerminalOpened?.(terminal, grant);
    terminal.show();
    return terminal;
  });
}
