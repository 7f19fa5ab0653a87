// "Open Terminal with Grant" offers to give the grant back when that terminal closes (issue 15,
// item 5): closing the last terminal that carries a still-active grant asks once whether to
// relinquish it. A terminal closed because the grant ended asks nothing (the grant is gone).
import * as vscode from 'vscode';
import type { Grant } from '../../server/protocol';
import { Commands } from '../constants';
import type { Deps } from '../commands/deps';
import { Disposable } from '../util/lifecycle';

export class GiveBackOnClose extends Disposable {
  private readonly terminals = new Map<vscode.Terminal, string>();

  constructor(private readonly deps: Deps) {
    super();
    this.register(vscode.window.onDidCloseTerminal((t) => this.closed(t)));
  }

  track(terminal: vscode.Terminal, grant: Grant): void {
    this.terminals.set(terminal, grant.id);
  }

  private closed(terminal: vscode.Terminal): void {
    const grantId = this.terminals.get(terminal);
    if (!grantId) return;
    this.terminals.delete(terminal);
    const { model, notifier } = this.deps;
    const grant = model.grant(grantId);
    if (!grant || [...this.terminals.values()].includes(grantId)) return;
    const t = vscode.l10n.t;
    notifier.notify({
      key: `giveBack:${grantId}:${Date.now()}`,
      kind: 'grantEnded',
      subject: `grant:${grantId}`,
      severity: 'info',
      message: t('You closed the terminal with your {0} access to {1}. Give the access back now?', grant.role, model.resourceName(grant.resourceId)),
      actions: [{ title: t('Relinquish'), run: () => vscode.commands.executeCommand(Commands.relinquishGrant, grantId, { confirm: false }) }],
      stillRelevant: () => !!model.grant(grantId),
    });
  }
}
