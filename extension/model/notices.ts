// Which live events deserve a notification, and what next action it offers (pure; the words
// are chosen in views/liveNotifications.ts so they can be localised).
import type { AccessRequest, Grant, LiveEvent } from '../../server/protocol';
import type { Released } from './credentialHolders';
import type { EndReason } from './credentials';

export type NoticeKind =
  | { kind: 'expiring'; grant: Grant; secondsLeft: number }
  | { kind: 'approved'; request?: AccessRequest; grant: Grant }
  | { kind: 'extensionApproved'; request: AccessRequest }
  | { kind: 'denied'; request: AccessRequest; by?: string; reason?: string }
  | { kind: 'requestExpired'; request: AccessRequest }
  | { kind: 'grantEnded'; grant: Grant; how: EndReason; released?: Pick<Released, 'terminals' | 'clipboard'> }
  | { kind: 'newRequest'; request: AccessRequest };

export interface NoticeDescriptor {
  /** the same in every window, so a notice shows once */
  key: string;
  notice: NoticeKind;
}

export interface Viewer {
  id: string;
  approverOf: readonly string[];
}

/** The notification an event calls for, for this user, or undefined. */
export function noticeFor(event: LiveEvent, me: Viewer): NoticeDescriptor | undefined {
  const { grant, request } = event;
  switch (event.type) {
    case 'grant.expiring':
      if (!grant || grant.userId !== me.id || grant.status !== 'active') return undefined;
      {
        const secondsLeft = event.secondsLeft ?? Math.max(0, Math.round((Date.parse(grant.expiresAt) - Date.parse(event.at)) / 1000));
        return { key: `expiring:${grant.id}:${grant.expiresAt}:${secondsLeft}`, notice: { kind: 'expiring', grant, secondsLeft } };
      }
    case 'request.approved':
      if (!request || request.requesterId !== me.id) return undefined;
      if (request.kind === 'extension') return { key: `decided:${request.id}`, notice: { kind: 'extensionApproved', request } };
      // without the grant, wait for its grant.activated (same key) so the notice can say until when
      return grant ? { key: `decided:${request.id}`, notice: { kind: 'approved', request, grant } } : undefined;
    case 'grant.activated':
      if (!grant || grant.userId !== me.id || grant.status !== 'active') return undefined;
      return { key: `decided:${grant.requestId}`, notice: { kind: 'approved', request, grant } };
    case 'request.denied':
      if (!request || request.requesterId !== me.id) return undefined;
      {
        const denial = [...request.approvals].reverse().find((a) => a.decision === 'deny');
        return { key: `decided:${request.id}`, notice: { kind: 'denied', request, by: denial?.approverId, reason: denial?.comment ?? undefined } };
      }
    case 'request.expired':
      if (!request || request.requesterId !== me.id) return undefined;
      return { key: `decided:${request.id}`, notice: { kind: 'requestExpired', request } };
    case 'grant.expired':
    case 'grant.revoked':
    case 'grant.failed':
      if (!grant || grant.userId !== me.id) return undefined;
      return { key: endedKey(grant.id), notice: { kind: 'grantEnded', grant, how: event.type === 'grant.expired' ? 'expired' : event.type === 'grant.revoked' ? 'revoked' : 'failed' } };
    case 'request.created':
      if (!request || request.requesterId === me.id || request.status !== 'pending') return undefined;
      if (!me.approverOf.includes(request.resourceId) && !request.breakGlass) return undefined;
      return { key: `created:${request.id}`, notice: { kind: 'newRequest', request } };
    default:
      return undefined;
  }
}

const endedKey = (grantId: string) => `ended:${grantId}`;

/**
 * The notification for a grant whose terminals or copied credentials were let go of: the one end
 * notice of that grant (same key as the event's, which stands down for it), saying what was closed
 * or cleared. Nothing when the user relinquished it and nothing was left to let go of.
 */
export function noticeForRelease(r: Released): NoticeDescriptor | undefined {
  if (r.reason === 'relinquished' && !r.terminals && !r.clipboard) return undefined;
  return { key: endedKey(r.grant.id), notice: { kind: 'grantEnded', grant: r.grant, how: r.reason, released: { terminals: r.terminals, clipboard: r.clipboard } } };
}
