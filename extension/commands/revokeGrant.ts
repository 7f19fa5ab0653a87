// Elevate: Revoke Grant — for approvers (and admins): end someone's active access now.
import * as vscode from 'vscode';
import type { Grant } from '../../server/protocol';
import { MAX_TEXT } from '../../server/protocol';
import { ApiError } from '../api/errors';
import { Commands } from '../constants';
import { formatClockTime } from '../model/format';
import { Cancelled, client, grantIdOf, registerCommand, withProgress, type Deps } from './deps';

export function registerRevokeGrant(deps: Deps): vscode.Disposable {
  return registerCommand(deps, Commands.revokeGrant, async (arg?: unknown, opts: { reason?: string } = {}) => {
    const { model } = deps;
    const api = client(deps);
    let grant: Grant | undefined;
    const id = grantIdOf(arg);
    if (id) {
      grant = await api.getGrant(id);
    } else {
      const load = withProgress(vscode.l10n.t('Loading active grants…'), () => api.listGrants({ scope: 'all', status: 'active', limit: 500 }));
      const items = load.then(({ grants }) => {
        const now = model.now();
        return grants.map((g) => ({
          label: `${g.userId}: ${model.resourceName(g.resourceId)} · ${g.role}`,
          description: vscode.l10n.t('until {0}', formatClockTime(g.expiresAt, now)),
          grant: g,
        }));
      });
      const picked = await vscode.window.showQuickPick(items, { title: vscode.l10n.t('Revoke Grant'), placeHolder: vscode.l10n.t('Whose access do you want to end now?') });
      if (!picked) throw new Cancelled();
      grant = picked.grant;
    }
    if (grant.status !== 'active') throw new ApiError(409, 'conflict', vscode.l10n.t('That grant has already ended.'));
    let reason = opts.reason?.trim();
    if (!reason) {
      const typed = await vscode.window.showInputBox({
        title: vscode.l10n.t('Revoke {0}\'s {1} access to {2}', grant.userId, grant.role, model.resourceName(grant.resourceId)),
        prompt: vscode.l10n.t('Reason (required; {0} sees it)', grant.userId),
        validateInput: (v) => (!v.trim() ? vscode.l10n.t('A reason is required.') : v.length > MAX_TEXT ? vscode.l10n.t('At most {0} characters.', MAX_TEXT) : undefined),
      });
      if (typed === undefined) throw new Cancelled();
      reason = typed.trim();
    }
    const target = grant;
    const revoked = await withProgress(vscode.l10n.t('Revoking…'), () => api.revoke(target.id, reason!));
    model.upsertGrant(revoked);
    vscode.window.setStatusBarMessage(`$(circle-slash) ${vscode.l10n.t('Revoked {0}\'s access to {1}', target.userId, model.resourceName(target.resourceId))}`, 5000);
    return revoked;
  });
}
