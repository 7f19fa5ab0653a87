// The status-bar click: every active grant with what can be done to it, plus the other entry points.
import * as vscode from 'vscode';
import { Commands } from '../constants';
import { extendChoices } from '../model/choices';
import { formatClockTime, formatTimeLeft } from '../model/format';
import { grantIdOf, registerCommand, type Deps } from './deps';

type ActionItem = vscode.QuickPickItem & { run?: () => Thenable<unknown> };

export function registerShowGrantActions(deps: Deps): vscode.Disposable {
  return registerCommand(deps, Commands.showGrantActions, async (arg?: unknown) => {
    const { model } = deps;
    const only = grantIdOf(arg);
    const now = model.now();
    const items: ActionItem[] = [];
    for (const g of model.grants.filter((x) => !only || x.id === only)) {
      const name = model.resourceName(g.resourceId);
      items.push({ label: `${name} · ${g.role}`, kind: vscode.QuickPickItemKind.Separator });
      const canExtend = extendChoices(g, model.resource(g.resourceId), now).choices.length > 0 && !model.pendingExtensionOf(g.id);
      if (canExtend) {
        items.push({
          label: `$(history) ${vscode.l10n.t('Extend…')}`,
          description: vscode.l10n.t('{0} left · until {1}', formatTimeLeft(Date.parse(g.expiresAt) - now), formatClockTime(g.expiresAt, now)),
          run: () => vscode.commands.executeCommand(Commands.extendGrant, g.id),
        });
      } else {
        items.push({
          label: `$(history) ${vscode.l10n.t('Extend…')}`,
          description: model.pendingExtensionOf(g.id)
            ? vscode.l10n.t('an extension is waiting for approval')
            : vscode.l10n.t('at the policy limit ({0})', formatClockTime(g.maxExpiresAt, now)),
        });
      }
      items.push({ label: `$(terminal) ${vscode.l10n.t('Open Terminal with Grant')}`, run: () => vscode.commands.executeCommand(Commands.openTerminal, g.id) });
      items.push({ label: `$(copy) ${vscode.l10n.t('Copy Credentials')}`, run: () => vscode.commands.executeCommand(Commands.copyCredentials, g.id) });
      items.push({
        label: `$(debug-disconnect) ${vscode.l10n.t('Relinquish now')}`,
        run: () => vscode.commands.executeCommand(Commands.relinquishGrant, g.id),
      });
    }
    items.push({ label: '', kind: vscode.QuickPickItemKind.Separator });
    if (model.state === 'ready')
      items.push({ label: `$(key) ${vscode.l10n.t('Request Access…')}`, run: () => vscode.commands.executeCommand(Commands.requestAccess) });
    items.push({ label: `$(list-flat) ${vscode.l10n.t('Show Audit Log')}`, run: () => vscode.commands.executeCommand(Commands.showAuditLog) });
    const picked = await vscode.window.showQuickPick(items, {
      title: vscode.l10n.t('Elevate — Active Access'),
      placeHolder: vscode.l10n.t('Extend, use or relinquish access'),
    });
    await picked?.run?.();
  });
}
