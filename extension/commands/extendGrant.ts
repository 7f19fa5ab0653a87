// Elevate: Extend Grant — choices show the new end, which apply at once and which need approval;
// nothing past the grant's maxExpiresAt is offered.
import * as vscode from 'vscode';
import { MAX_TEXT, type Grant, type ResourceView } from '../../server/protocol';
import { ApiError } from '../api/errors';
import { Commands } from '../constants';
import { extendAppliesAtOnce, extendChoices } from '../model/choices';
import { formatClockTime, formatDuration } from '../model/format';
import { approversText } from '../views/describe';
import { waitingNotice } from '../model/notices';
import { durationStep } from './durationStep';
import { inputStep, runSteps, SKIP, type Step } from './flow';
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
      void vscode.window.showInformationMessage(
        vscode.l10n.t('An extension of {0} by {1} is already waiting for approval.', name, formatDuration(pending.durationSeconds)),
      );
      return undefined;
    }
    const now = model.now();
    const { choices, reason } = extendChoices(grant, resource, now);
    let seconds = opts.durationSeconds;
    if (seconds === undefined) {
      if (!choices.length) {
        throw new ApiError(
          422,
          'policy_violation',
          reason === 'ended'
            ? vscode.l10n.t('Access to {0} has ended.', name)
            : vscode.l10n.t('Access to {0} cannot be extended past {1} (the policy limit).', name, formatClockTime(grant.maxExpiresAt, now)),
        );
      }
      // the same step frame as Request Access: presets, a typed length ("20m" offers "Use +20m"),
      // "Other duration…", Back from the reason to the length
      const atOnce = (s: number) => extendAppliesAtOnce(grant, resource, s);
      const room = choices.at(-1)!.seconds;
      const title = vscode.l10n.t('Extend {0} ({1}), ends {2}', name, grant.role, formatClockTime(grant.expiresAt, now));
      const describe = extendLabel(grant, resource, now, room);
      let justification = opts.justification;
      const needsReason = () => !atOnce(seconds!) && opts.justification === undefined;
      const steps: Step[] = [
        async () => {
          const picked = await durationStep({
            title,
            step: 1,
            totalSteps: needsReason() ? 2 : 1,
            canGoBack: false,
            placeholder: vscode.l10n.t('Add how much time? Pick or type a length'),
            options: extendPickerOptions(grant, resource, now),
            current: seconds,
            maxSeconds: room,
            describe,
            prefix: '+',
          });
          if (typeof picked === 'number') seconds = picked;
          return picked;
        },
        async () => {
          if (!needsReason()) return SKIP;
          const why = await inputStep({
            title: vscode.l10n.t('Extend {0} by {1}', name, formatDuration(seconds!)),
            step: 2,
            totalSteps: 2,
            canGoBack: true,
            prompt: vscode.l10n.t('Why do you need more time? (optional; approvers see it)'),
            value: justification ?? '',
            validate: (v) => (v.length > MAX_TEXT ? vscode.l10n.t('At most {0} characters.', MAX_TEXT) : undefined),
          });
          if (typeof why === 'string') justification = why.trim() || undefined;
          return why;
        },
      ];
      if (!(await runSteps(steps)) || seconds === undefined) throw new Cancelled();
      opts = { ...opts, justification };
    }
    const result = await withProgress(vscode.l10n.t('Extending access to {0}…', name), () => client(deps).extend(grant.id, seconds!, opts.justification));
    if (result.kind === 'applied') {
      model.upsertGrant(result.grant);
      void vscode.window.showInformationMessage(
        vscode.l10n.t('Access to {0} ({1}) extended until {2}', name, result.grant.role, formatClockTime(result.grant.expiresAt, model.now())),
      );
    } else {
      model.upsertRequest(result.request);
      // the same "waiting" notice (and key) as the live event for this request: told once
      deps.announce(waitingNotice(result.request));
    }
    return result;
  });
}

/**
 * How the Extend picker describes a length: its new end, and whether it applies at once by the
 * server's own rule (rules.ts extendsAtOnce: within what is left of this grant's withoutApproval
 * budget) or needs an approver.
 */
export function extendLabel(grant: Grant, resource: ResourceView | undefined, now: number, room: number) {
  return (s: number) => ({
    description:
      vscode.l10n.t('until {0}', formatClockTime(Date.parse(grant.expiresAt) + s * 1000, now)) + (s === room ? ` · ${vscode.l10n.t('the limit')}` : ''),
    detail: extendAppliesAtOnce(grant, resource, s)
      ? vscode.l10n.t('Applies at once')
      : vscode.l10n.t('Needs approval by {0}', resource ? approversText(resource) : vscode.l10n.t('an approver')),
  });
}

/** The lengths the Extend picker offers for a grant now, as it shows them. */
export function extendPickerOptions(grant: Grant, resource: ResourceView | undefined, now: number): { seconds: number; description: string; detail: string }[] {
  const { choices } = extendChoices(grant, resource, now);
  const room = choices.at(-1)?.seconds ?? 0;
  const describe = extendLabel(grant, resource, now, room);
  return choices.map((c) => ({ seconds: c.seconds, ...describe(c.seconds) }));
}
