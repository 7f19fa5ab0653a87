// Turns live events into notifications that offer the next action.
import * as vscode from 'vscode';
import type { AccessRequest, Grant } from '../../server/protocol';
import { Commands } from '../constants';
import type { CredentialHolders } from '../model/credentialHolders';
import { asSentence, formatClockTime, formatDuration } from '../model/format';
import type { ElevateModel } from '../model/model';
import { extendChoices } from '../model/choices';
import { terminalsKeepOutput } from './grantTerminal';
import { noticeFor, noticeForRelease, type NoticeDescriptor, type NoticeKind } from '../model/notices';
import { Disposable } from '../util/lifecycle';
import type { Notice, Notifier } from './notifier';
import { approversText, requestTitle } from './describe';

const run =
  (command: string, ...args: unknown[]) =>
  () =>
    vscode.commands.executeCommand(command, ...args);

export class LiveNotifications extends Disposable {
  /** my recently approved access requests, to name the approvers when their grant arrives */
  private readonly approved = new Map<string, AccessRequest>();
  private signedInBefore = false;

  /**
   * `holders` must be created before this (its listeners run first), so it has noticed a grant's
   * end by the time that grant's event arrives here.
   */
  constructor(
    private readonly model: ElevateModel,
    private readonly notifier: Notifier,
    private readonly holders: Pick<CredentialHolders, 'onDidRelease' | 'announcesEndOf' | 'holdersOf'>,
    private readonly showDetail: (id: string) => unknown,
  ) {
    super();
    // a grant whose terminals or copied credentials were let go of gets one end notice, saying so
    this.register(
      holders.onDidRelease((r) => {
        const d = noticeForRelease(r);
        if (d) this.announce(d);
      }),
    );
    this.register(
      model.onDidReceiveEvent(({ event }) => {
        const me = model.me;
        if (!me) return;
        if (event.type === 'request.approved' && event.request?.requesterId === me.id) {
          this.approved.set(event.request.id, event.request);
          if (this.approved.size > 50) this.approved.delete(this.approved.keys().next().value!);
        }
        const d = noticeFor(event, me, model);
        if (!d || (d.notice.kind === 'grantEnded' && holders.announcesEndOf(d.notice.grant.id))) return;
        this.announce(d);
      }),
    );
    // whatever changed may have made a notice on screen untrue: close it
    this.register(
      model.onDidChange((kinds) => {
        notifier.recheck();
        if (kinds.has('connection')) this.onConnection();
      }),
    );
  }

  /** Shows the notice for a descriptor (commands use this too, so an outcome is told once). */
  announce(d: NoticeDescriptor): void {
    const n = this.describe(d.notice);
    if (n) this.notifier.notify({ key: d.key, ...n });
  }

  /** Signed out by the server (token revoked or expired): say so, with Sign In. */
  private onConnection(): void {
    const { model } = this;
    if (model.state === 'ready') this.signedInBefore = true;
    if (model.state !== 'signedOut' || !this.signedInBefore || !model.message) return;
    this.signedInBefore = false;
    const t = vscode.l10n.t;
    this.notifier.notify({
      key: `signedOut:${Date.now()}`,
      kind: 'signedOut',
      severity: 'warning',
      message: t('Elevate signed you out: {0} Access you hold keeps running on the server until it ends.', asSentence(model.message)),
      actions: [{ title: t('Sign In'), run: run(Commands.signIn) }],
      stillRelevant: () => model.state === 'signedOut',
      subject: 'session',
    });
  }

  private describe(n: NoticeKind): Omit<Notice, 'key'> | undefined {
    const model = this.model;
    const now = model.now();
    const t = vscode.l10n.t;
    switch (n.kind) {
      case 'expiring': {
        const { grant } = n;
        const name = model.resourceName(grant.resourceId);
        const minutes = Math.max(1, Math.round(n.secondsLeft / 60));
        const held = this.holders.holdersOf(grant.id);
        const terminals = held.filter((h) => h.kind === 'terminal').length;
        const clipboard = held.some((h) => h.kind === 'clipboard');
        // says what will happen then (views/grantTerminal.ts): the terminal's session ends and it
        // stays open to be read, or (without a POSIX sh) it closes
        const term = terminalsKeepOutput ? t("Then its terminal's session ends (the output stays readable)") : t('Then its terminal closes');
        const then =
          terminals && clipboard
            ? t('{0} and the copied credentials are cleared.', term)
            : terminals
              ? `${term}.`
              : clipboard
                ? t('Then the copied credentials are cleared from the clipboard.')
                : '';
        // one click extends by what the policy applies at once; "Other…" opens the picker
        const atOnce = extendChoices(grant, model.resource(grant.resourceId), now)
          .choices.filter((c) => c.atOnce)
          .at(-1);
        const actions = atOnce
          ? [
              { title: t('Extend by {0}', formatDuration(atOnce.seconds)), run: run(Commands.extendGrant, grant.id, { durationSeconds: atOnce.seconds }) },
              { title: t('Other…'), run: run(Commands.extendGrant, grant.id) },
            ]
          : [{ title: t('Extend…'), run: run(Commands.extendGrant, grant.id) }];
        return {
          kind: 'expiring',
          severity: 'warning',
          message: [t('Your {0} access to {1} ends in {2} min ({3}).', grant.role, name, minutes, formatClockTime(grant.expiresAt, now)), then]
            .filter(Boolean)
            .join(' '),
          actions,
          stillRelevant: () => model.grant(grant.id)?.expiresAt === grant.expiresAt && Date.parse(grant.expiresAt) > model.now(),
          subject: `grant:${grant.id}`,
        };
      }
      case 'waiting': {
        const r = n.request;
        const resource = model.resource(r.resourceId);
        const approvals = r.approvals.filter((a) => a.decision === 'approve').length;
        return {
          kind: 'waiting',
          severity: 'info',
          message: t(
            'Waiting for approval: {0} — {1} of {2} approvals, by {3}.',
            requestTitle(r, model.resourceName(r.resourceId)),
            approvals,
            r.requiredApprovals,
            resource ? approversText(resource) : t('an approver'),
          ),
          actions: [
            { title: t('Show Request'), run: () => this.showDetail(r.id) },
            { title: t('Copy Link for Approver'), run: run(Commands.copyRequestLink, r.id) },
            { title: t('Cancel Request'), run: run(Commands.cancelRequest, r.id) },
          ],
          stillRelevant: () => model.myRequests.some((x) => x.id === r.id),
          subject: `request:${r.id}`,
        };
      }
      case 'gettingReady': {
        const { grant } = n;
        return {
          kind: 'gettingReady',
          severity: 'info',
          message: t('Approved{0} — setting up your {1} access to {2}…', this.approvedBy(grant, n.request), grant.role, model.resourceName(grant.resourceId)),
          stillRelevant: () => !!model.grant(grant.id) && !model.isProvisioned(grant.id),
          subject: `grant:${grant.id}`,
        };
      }
      case 'approved': {
        const { grant } = n;
        const name = model.resourceName(grant.resourceId);
        return {
          kind: 'approved',
          severity: 'info',
          message: t(
            'Access to {0} ({1}) approved{2} — granted until {3}{4}',
            name,
            grant.role,
            this.approvedBy(grant, n.request),
            formatClockTime(grant.expiresAt, now),
            this.comments(n.request ?? this.approved.get(grant.requestId)),
          ),
          subject: `grant:${grant.id}`,
        };
      }
      case 'extensionApproved': {
        const g = n.request.grantId ? model.grant(n.request.grantId) : undefined;
        return {
          kind: 'approved',
          severity: 'info',
          message: t(
            'Extension of {0} by {1} approved{2}{3}{4}',
            model.resourceName(n.request.resourceId),
            formatDuration(n.request.durationSeconds),
            this.by(n.request),
            g ? t(' — your access now ends at {0}', formatClockTime(g.expiresAt, now)) : '',
            this.comments(n.request),
          ),
        };
      }
      case 'denied': {
        const r = n.request;
        const by = n.by ? t(' by {0}', n.by) : '';
        const reason = n.reason ? `: ${n.reason}` : '';
        if (r.kind === 'extension') {
          const g = r.grantId ? model.grant(r.grantId) : undefined;
          return {
            kind: 'denied',
            severity: 'warning',
            message:
              t('Your extension of {0} by {1} was denied{2}{3}.', model.resourceName(r.resourceId), formatDuration(r.durationSeconds), by, reason) +
              (g ? ` ${t('Your access still ends at {0}.', formatClockTime(g.expiresAt, now))}` : ''),
          };
        }
        return {
          kind: 'denied',
          severity: 'warning',
          message: t('Your request for {0} ({1}) was denied{2}{3}', model.resourceName(r.resourceId), r.role, by, reason),
          actions: [{ title: t('Request Again'), run: run(Commands.requestAccess, r.resourceId) }],
        };
      }
      case 'requestExpired':
        return {
          kind: 'requestExpired',
          severity: 'warning',
          message: t('Nobody decided your request for {0} ({1}) in time; it expired.', model.resourceName(n.request.resourceId), n.request.role),
          actions: n.request.kind === 'access' ? [{ title: t('Request Again'), run: run(Commands.requestAccess, n.request.resourceId) }] : [],
        };
      case 'grantEnded': {
        const { grant, how, released } = n;
        const name = model.resourceName(grant.resourceId);
        const why =
          how === 'revoked'
            ? t(
                'Your {0} access to {1} was revoked{2}{3}',
                grant.role,
                name,
                grant.endedBy ? t(' by {0}', grant.endedBy) : '',
                grant.endReason ? `: ${grant.endReason}` : '',
              )
            : how === 'failed'
              ? t('Your {0} access to {1} could not be set up{2}', grant.role, name, grant.endReason ? `: ${grant.endReason}` : '')
              : how === 'relinquished'
                ? t('You relinquished your {0} access to {1}.', grant.role, name)
                : t('Your {0} access to {1} has ended.', grant.role, name);
        const letGo = released && this.letGo(released.terminals, released.clipboard);
        return {
          kind: 'grantEnded',
          severity: how === 'expired' || how === 'relinquished' ? 'info' : 'warning',
          message: letGo ? `${asSentence(why)} ${letGo}` : why,
          actions: how === 'relinquished' ? [] : [{ title: t('Request Again'), run: run(Commands.requestAccess, grant.resourceId) }],
          subject: `grant:${grant.id}`,
        };
      }
      case 'approvedFailed': {
        const { grant } = n;
        return {
          kind: 'approvedFailed',
          severity: 'warning',
          message: t(
            "{0}'s {1} access to {2}, which you approved, could not be set up{3}",
            grant.userId,
            grant.role,
            model.resourceName(grant.resourceId),
            grant.endReason ? `: ${grant.endReason}` : '',
          ),
        };
      }
      case 'newRequest': {
        const r = n.request;
        const title = requestTitle(r, model.resourceName(r.resourceId));
        if (r.breakGlass) {
          return {
            kind: 'newRequest',
            severity: 'warning',
            message: t('Break-glass: {0} took {1}. Justification: {2}', r.requesterId, title, r.justification),
            actions: [{ title: t('Review'), run: () => this.showDetail(r.id) }],
          };
        }
        return {
          kind: 'newRequest',
          severity: 'info',
          message: t('New request from {0}: {1}', r.requesterId, title),
          actions: [
            { title: t('Review'), run: () => this.showDetail(r.id) },
            { title: t('Approve'), run: run(Commands.approveRequest, r.id) },
            { title: t('Deny'), run: run(Commands.denyRequest, r.id) },
          ],
          stillRelevant: () => model.reviewable.some((x) => x.id === r.id),
          subject: `review:${r.id}`,
        };
      }
    }
  }

  /** " by policy", " by bob", " (break-glass)" or "" */
  private approvedBy(grant: Grant, request: AccessRequest | undefined): string {
    const t = vscode.l10n.t;
    const r = request ?? this.approved.get(grant.requestId);
    return r?.breakGlass ? t(' (break-glass)') : r?.autoApproved ? t(' by policy') : r ? this.by(r) : '';
  }

  private by(r: AccessRequest): string {
    const who = r.approvals.filter((a) => a.decision === 'approve').map((a) => a.approverId);
    return who.length ? vscode.l10n.t(' by {0}', who.join(', ')) : '';
  }

  /** The approvers' comments, for the requester: ` — bob: “read only please”` */
  private comments(r: AccessRequest | undefined): string {
    const said = (r?.approvals ?? []).filter((a) => a.decision === 'approve' && a.comment?.trim());
    return said.length ? ` — ${said.map((a) => `${a.approverId}: “${a.comment!.trim()}”`).join('; ')}` : '';
  }

  /** What was let go of when a grant ended, as a sentence (undefined: nothing). */
  private letGo(terminals: number, clipboard: boolean): string | undefined {
    const t = vscode.l10n.t;
    const term = terminalsKeepOutput
      ? terminals === 1
        ? t("Its terminal's session was ended (the output stays readable)")
        : t('The sessions of its {0} terminals were ended (the output stays readable)', terminals)
      : terminals === 1
        ? t('Its terminal was closed')
        : t('Its {0} terminals were closed', terminals);
    if (terminals && clipboard) return t('{0} and the copied credentials were cleared from the clipboard.', term);
    if (terminals) return `${term}.`;
    return clipboard ? t('The copied credentials were cleared from the clipboard.') : undefined;
  }
}
