// Elevate: Copy Credentials — the connection values of an active grant on the clipboard: a
// postgresql:// URI for a database login, else KEY=value lines. The clipboard is cleared when the
// grant ends if it still holds them (views/grantCredentials.ts). The values never reach the log.
import * as vscode from 'vscode';
import { Commands } from '../constants';
import { clipboardContent, fetchCredentials } from '../model/credentials';
import { formatClockTime } from '../model/format';
import { client, pickGrant, registerCommand, withProgress, type Deps } from './deps';

export function registerCopyCredentials(deps: Deps): vscode.Disposable {
  return registerCommand(deps, Commands.copyCredentials, async (arg?: unknown) => {
    const { model } = deps;
    const grant = await pickGrant(deps, arg, vscode.l10n.t('Copy the credentials of which access?'));
    const name = model.resourceName(grant.resourceId);
    const access = vscode.l10n.t('your {0} access to {1}', grant.role, name);
    const creds = await withProgress(vscode.l10n.t('Fetching credentials for {0}…', name), () =>
      fetchCredentials(() => client(deps).credentials(grant.id), access),
    );
    const content = clipboardContent(creds.credentials);
    await deps.credentials.copyToClipboard(model.grant(grant.id) ?? grant, creds.expiresAt, content.text);
    deps.log.info(`copied the credentials of grant ${grant.id} (${content.kind}: ${content.keys.join(', ')}; values not logged)`);
    const until = formatClockTime(creds.expiresAt, model.now());
    void vscode.window.showInformationMessage(
      content.kind === 'uri'
        ? vscode.l10n.t(
            'Copied the connection URI (user {0}) for {1}. It works until {2}; then it is cleared from the clipboard.',
            creds.credentials.PGUSER ?? '',
            access,
            until,
          )
        : vscode.l10n.t(
            'Copied {0} for {1} as KEY=value lines. They work until {2}; then they are cleared from the clipboard.',
            content.keys.join(', '),
            access,
            until,
          ),
    );
    return { kind: content.kind, keys: content.keys, expiresAt: creds.expiresAt };
  });
}
