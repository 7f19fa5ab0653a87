// Elevate: Revoke Grant… — for approvers (and admins): end someone's active access now. Asks for a
// reason (the owner sees it), then confirms once: it is destructive and sits beside other actions.
import * as vscode from 'vscode';
import type { Grant } from '../../server/protocol';
import { MAX_TEXT } from '../../server/protocol';
import { ApiError } from '../api/errors';
import { Commands } from '../constants';
import { formatClockTime, formatMinutesLeft } from '../model/format';
import { Cancelled, client, grantIdOf, registerCommand, withProgress, type Deps } from './deps';

export interface RevokeArgs {
  reason?: string;
  /** false skips the confirmation (tests, and callers that asked already) */
  confirm?: boolean;
}

export function registerRevokeGrant(deps: Deps): vscode.Disposable {
  return registerCommand(deps, Commands.revokeGrant, async (arg?: unknown, opts: RevokeArgs = {}) => {
    const { model } = deps;
    const api = client(deps);
    let grant: Grant | undefined;
    const id = grantIdOf(arg);
    if (id) {
      grant = model.revocable.find((g) => g.id === id) ?? (await api.getGrant(id));
    } else {
      // the grants Others' Access lists: those this person may revoke (the server decides again)
      const now = model.now();
      const items = model.revocable.map((g) => ({
        label: `${g.userId}: ${model.resourceName(g.resourceId)} · ${g.role}`,
        description: vscode.l10n.t('{0} left · until {1}', formatMinutesLeft(Date.parse(g.expiresAt) - now), formatClockTime(g.expiresAt, now)),
        grant: g,
      }));
      if (!items.length) {
        void vscode.window.showInformationMessage(vscode.l10n.t('Nobody else holds access you can revoke.'));
        return undefined;
      }
      const picked = await vscode.window.showQuickPick(items, {
        title: vscode.l10n.t('Revoke Grant'),
        placeHolder: vscode.l10n.t('Whose access do you want to end now?'),
      });
      if (!picked) throw new Cancelled();
      grant = picked.grant;
    }
    if (grant.status !== 'active') throw new ApiError(409, 'conflict', vscode.l10n.t('That grant has already ended.'));
    const name = model.resourceName(grant.resourceId);
    let reason = opts.reason?.trim();
    if (!reason) {
      const typed = await vscode.window.showInputBox({
        title: vscode.l10n.t("Revoke {0}'s {1} access to {2}", grant.userId, grant.role, name),
        prompt: vscode.l10n.t('Reason (required; {0} sees it)', grant.userId),
        validateInput: (v) =>
          !v.trim() ? vscode.l10n.t('A reason is required.') : v.length > MAX_TEXT ? vscode.l10n.t('At most {0} characters.', MAX_TEXT) : undefined,
      });
      if (typed === undefined) throw new Cancelled();
      reason = typed.trim();
    }
    if (opts.confirm !== false) {
      const ok = vscode.l10n.t('Revoke');
      const pick = await vscode.window.showWarningMessage(
        vscode.l10n.t("Revoke {0}'s {1} access to {2} now?", grant.userId, grant.role, name),
        { modal: true, detail: vscode.l10n.t('Their access ends at once, and they see your reason: "{0}".', reason) },
        ok,
      );
      if (pick !== ok) throw new Cancelled();
    }
    const target = grant;
    const revoked = await withProgress(vscode.l10n.t('Revoking…'), () => api.revoke(target.id, reason!));
    model.upsertGrant(revoked);
    vscode.window.setStatusBarMessage(`$(circle-slash) ${vscode.l10n.t("Revoked {0}'s access to {1}", target.userId, name)}`, 5000);
    return revoked;
  });
}
