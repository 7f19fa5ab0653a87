// Turns live events into notifications that offer the next action.
import * as vscode from 'vscode';
import type { AccessRequest } from '../../server/protocol';
import { Commands } from '../constants';
import type { CredentialHolders } from '../model/credentialHolders';
import { asSentence, formatClockTime, formatDuration } from '../model/format';
import type { ElevateModel } from '../model/model';
import { noticeFor, noticeForRelease, type NoticeDescriptor, type NoticeKind } from '../model/notices';
import { Disposable } from '../util/lifecycle';
import type { Notice, Notifier } from './notifier';
import { requestTitle } from './describe';

const run = (command: string, ...args: unknown[]) => () => vscode.commands.executeCommand(command, ...args);

export class LiveNotifications extends Disposable {
  /** my recently approved access requests, to name the approvers when their grant arrives */
  private readonly approved = new Map<string, AccessRequest>();

  /**
   * `holders` must be created before this (its listeners run first), so it has noticed a grant's
   * end by the time that grant's event arrives here.
   */
  constructor(
    private readonly model: ElevateModel,
    notifier: Notifier,
    holders: Pick<CredentialHolders, 'onDidRelease' | 'announcesEndOf'>,
    showDetail: (id: string) => unknown,
  ) {
    super();
    const notify = (d: NoticeDescriptor) => {
      const n = this.describe(d.notice, showDetail);
      if (n) notifier.notify({ key: d.key, ...n });
    };
    // a grant whose terminals or copied credentials were let go of gets one end notice, saying so
    this.register(holders.onDidRelease((r) => {
      const d = noticeForRelease(r);
      if (d) notify(d);
    }));
    this.register(
      model.onDidReceiveEvent(({ event }) => {
        const me = model.me;
        if (!me) return;
        if (event.type === 'request.approved' && event.request?.requesterId === me.id) {
          this.approved.set(event.request.id, event.request);
          if (this.approved.size > 50) this.approved.delete(this.approved.keys().next().value!);
        }
        const d = noticeFor(event, me);
        if (!d || (d.notice.kind === 'grantEnded' && holders.announcesEndOf(d.notice.grant.id))) return;
        notify(d);
      }),
    );
  }

  private describe(n: NoticeKind, showDetail: (id: string) => unknown): Omit<Notice, 'key'> | undefined {
    const model = this.model;
    const now = model.now();
    const t = vscode.l10n.t;
    switch (n.kind) {
      case 'expiring': {
        const name = model.resourceName(n.grant.resourceId);
        const minutes = Math.max(1, Math.round(n.secondsLeft / 60));
        return {
          severity: 'warning',
          message: t('Your {0} access to {1} expires in {2} min.', n.grant.role, name, minutes),
          actions: [{ title: t('Extend'), run: run(Commands.extendGrant, n.grant.id) }],
          stillRelevant: () => model.grant(n.grant.id)?.expiresAt === n.grant.expiresAt && Date.parse(n.grant.expiresAt) > model.now(),
        };
      }
      case 'approved': {
        const { grant } = n;
        const name = model.resourceName(grant.resourceId);
        const request = n.request ?? this.approved.get(grant.requestId);
        const by = (request?.approvals ?? []).filter((a) => a.decision === 'approve').map((a) => a.approverId);
        const how = request?.breakGlass ? t(' (break-glass)') : request?.autoApproved ? t(' by policy') : by.length ? t(' by {0}', by.join(', ')) : '';
        return {
          severity: 'info',
          message: t('Access to {0} ({1}) approved{2} — granted until {3}', name, grant.role, how, formatClockTime(grant.expiresAt, now)),
          actions: [{ title: t('Extend or Relinquish'), run: run(Commands.showGrantActions, grant.id) }],
          stillRelevant: () => !!model.grant(grant.id),
        };
      }
      case 'extensionApproved':
        return {
          severity: 'info',
          message: t('Extension of {0} by {1} approved', model.resourceName(n.request.resourceId), formatDuration(n.request.durationSeconds)),
        };
      case 'denied':
        return {
          severity: 'warning',
          message: t('Your request for {0} ({1}) was denied{2}{3}', model.resourceName(n.request.resourceId), n.request.role, n.by ? t(' by {0}', n.by) : '', n.reason ? `: ${n.reason}` : ''),
          actions: n.request.kind === 'access' ? [{ title: t('Request Again'), run: run(Commands.requestAccess, n.request.resourceId) }] : [],
        };
      case 'requestExpired':
        return {
          severity: 'warning',
          message: t('Nobody decided your request for {0} ({1}) in time; it expired.', model.resourceName(n.request.resourceId), n.request.role),
          actions: n.request.kind === 'access' ? [{ title: t('Request Again'), run: run(Commands.requestAccess, n.request.resourceId) }] : [],
        };
      case 'grantEnded': {
        const { grant, how, released } = n;
        const name = model.resourceName(grant.resourceId);
        const why =
          how === 'revoked'
            ? t('Your {0} access to {1} was revoked{2}{3}', grant.role, name, grant.endedBy ? t(' by {0}', grant.endedBy) : '', grant.endReason ? `: ${grant.endReason}` : '')
            : how === 'failed'
              ? t('Your {0} access to {1} could not be set up{2}', grant.role, name, grant.endReason ? `: ${grant.endReason}` : '')
              : how === 'relinquished'
                ? t('You relinquished your {0} access to {1}.', grant.role, name)
                : t('Your {0} access to {1} has ended.', grant.role, name);
        const letGo = released && this.letGo(released.terminals, released.clipboard);
        return {
          severity: how === 'expired' || how === 'relinquished' ? 'info' : 'warning',
          message: letGo ? `${asSentence(why)} ${letGo}` : why,
          actions: how === 'relinquished' ? [] : [{ title: t('Request Again'), run: run(Commands.requestAccess, grant.resourceId) }],
        };
      }
      case 'newRequest': {
        const r = n.request;
        const title = requestTitle(r, model.resourceName(r.resourceId));
        const still = () => model.reviewable.some((x) => x.id === r.id);
        if (r.breakGlass) {
          return {
            severity: 'warning',
            message: t('Break-glass: {0} took {1}. Justification: {2}', r.requesterId, title, r.justification),
            actions: [{ title: t('Review'), run: () => showDetail(r.id) }],
          };
        }
        return {
          severity: 'info',
          message: t('New request from {0}: {1}', r.requesterId, title),
          actions: [
            { title: t('Review'), run: () => showDetail(r.id) },
            { title: t('Approve'), run: run(Commands.approveRequest, r.id) },
          ],
          stillRelevant: still,
        };
      }
    }
  }

  /** What was let go of when a grant ended, as a sentence (undefined: nothing). */
  private letGo(terminals: number, clipboard: boolean): string | undefined {
    const t = vscode.l10n.t;
    if (terminals && clipboard) {
      return terminals === 1
        ? t('Its terminal was closed and the copied credentials were cleared from the clipboard.')
        : t('Its {0} terminals were closed and the copied credentials were cleared from the clipboard.', terminals);
    }
    if (terminals) return terminals === 1 ? t('Its terminal was closed.') : t('Its {0} terminals were closed.', terminals);
    return clipboard ? t('The copied credentials were cleared from the clipboard.') : undefined;
  }
}
