// Elevate: Extend Grant — choices show the new end, which apply at once and which need approval;
// nothing past the grant's maxExpiresAt is offered.
import * as vscode from 'vscode';
import { MAX_TEXT } from '../../server/protocol';
import { ApiError } from '../api/errors';
import { Commands } from '../constants';
import { extendChoices } from '../model/choices';
import { formatClockTime, formatDuration } from '../model/format';
import { approversText } from '../views/describe';
import { Cancelled, client, pickGrant, registerCommand, withProgress, type Deps } from './deps';

export interface ExtendArgs {
  durationSeconds?: number;
  justification?: string;
}

export function registerExtendGrant(deps: Deps): vscode.Disposable {
  return registerCommand(deps, Commands.extendGrant, async (arg?: unknown, opts: ExtendArgs = {}) => {
    const { model } = deps;
    const grant = await pickGrant(deps, arg, vscode.l10n.t('Which access do you want to extend?'));
    const name = model.resourceName(grant.resourceId);
    const resource = model.resource(grant.resourceId);
    const pending = model.pendingExtensionOf(grant.id);
    if (pending) {
      void vscode.window.showInformationMessage(vscode.l10n.t('An extension of {0} by {1} is already waiting for approval.', name, formatDuration(pending.durationSeconds)));
      return undefined;
    }
    const now = model.now();
    const { choices, reason } = extendChoices(grant, resource, now);
    let seconds = opts.durationSeconds;
    if (seconds === undefined) {
      if (!choices.length) {
        throw new ApiError(422, 'policy_violation', reason === 'ended'
          ? vscode.l10n.t('Access to {0} has ended.', name)
          : vscode.l10n.t('Access to {0} cannot be extended past {1} (the policy limit).', name, formatClockTime(grant.maxExpiresAt, now)));
      }
      const items = choices.map((c) => ({
        label: `$(${c.atOnce ? 'zap' : 'person'}) +${formatDuration(c.seconds)}`,
        description: vscode.l10n.t('until {0}', formatClockTime(c.newExpiresAt, now)) + (c.toLimit ? ` · ${vscode.l10n.t('the limit')}` : ''),
        detail: c.atOnce ? vscode.l10n.t('Applies at once') : vscode.l10n.t('Needs approval by {0}', resource ? approversText(resource) : vscode.l10n.t('an approver')),
        seconds: c.seconds,
        atOnce: c.atOnce,
      }));
      const picked = await vscode.window.showQuickPick(items, {
        title: vscode.l10n.t('Extend {0} ({1}), ends {2}', name, grant.role, formatClockTime(grant.expiresAt, now)),
        placeHolder: vscode.l10n.t('Add how much time?'),
      });
      if (!picked) throw new Cancelled();
      seconds = picked.seconds;
      if (!picked.atOnce && opts.justification === undefined) {
        const why = await vscode.window.showInputBox({
          title: vscode.l10n.t('Extend {0} by {1}', name, formatDuration(seconds)),
          prompt: vscode.l10n.t('Why do you need more time? (optional; approvers see it)'),
          validateInput: (v) => (v.length > MAX_TEXT ? vscode.l10n.t('At most {0} characters.', MAX_TEXT) : undefined),
        });
        if (why === undefined) throw new Cancelled();
        opts = { ...opts, justification: why.trim() || undefined };
      }
    }
    const result = await withProgress(vscode.l10n.t('Extending access to {0}…', name), () => client(deps).extend(grant.id, seconds!, opts.justification));
    if (result.kind === 'applied') {
      model.upsertGrant(result.grant);
      void vscode.window.showInformationMessage(vscode.l10n.t('Access to {0} ({1}) extended until {2}', name, result.grant.role, formatClockTime(result.grant.expiresAt, model.now())));
    } else {
      model.upsertRequest(result.request);
      void vscode.window.showInformationMessage(
        vscode.l10n.t('Extension of {0} by {1} sent for approval by {2}', name, formatDuration(seconds!), resource ? approversText(resource) : vscode.l10n.t('an approver')),
      );
    }
    return result;
  });
}
