// Which live events deserve a notification, and what next action it offers (pure; the words
// are chosen in views/liveNotifications.ts so they can be localised).
import type { AccessRequest, Grant, LiveEvent } from '../../server/protocol';
import type { Released } from './credentialHolders';
import type { EndReason } from './credentials';

export type NoticeKind =
  | { kind: 'expiring'; grant: Grant; secondsLeft: number }
  | { kind: 'waiting'; request: AccessRequest }
  | { kind: 'gettingReady'; request?: AccessRequest; grant: Grant }
  | { kind: 'approved'; request?: AccessRequest; grant: Grant }
  | { kind: 'extensionApproved'; request: AccessRequest }
  | { kind: 'denied'; request: AccessRequest; by?: string; reason?: string }
  | { kind: 'requestExpired'; request: AccessRequest }
  | { kind: 'grantEnded'; grant: Grant; how: EndReason; released?: Pick<Released, 'terminals' | 'clipboard'> }
  | { kind: 'newRequest'; request: AccessRequest }
  | { kind: 'approvedFailed'; grant: Grant };

/**
 * The kinds a person can mute (setting `elevate.notifications.muted`, or "Don't Show Again"),
 * each with what it covers. Kept here so the manifest test can check the setting's enum.
 */
export const MUTABLE_KINDS = {
  newRequest: 'A request waits for your review (approvers)',
  waiting: 'Your request waits for approval',
  gettingReady: 'Approved access is being set up on the target system',
  approved: 'Your access (or its extension) was approved',
  denied: 'Your request (or extension) was denied',
  requestExpired: 'Nobody decided your request in time',
  expiring: 'Your access ends soon',
  grantEnded: 'Your access ended (expired, revoked, could not be set up)',
  approvedFailed: 'Access you approved could not be set up (approvers)',
  signedOut: 'The server signed you out',
  refused: 'A command in your terminal was refused (offer to request access, then to re-run it)',
} as const;
export type MutableKind = keyof typeof MUTABLE_KINDS;

/** The mute group of a notice kind (extension outcomes go with their access counterparts). */
export function muteKindOf(kind: NoticeKind['kind'] | 'signedOut'): MutableKind {
  return kind === 'extensionApproved' ? 'approved' : kind;
}

/** What the extension knows about provisioning, so "access granted" waits for the provider. */
export interface ProvisioningView {
  /** the resource's access is set up by a provider (so a new grant is not ready at once) */
  hasProvider(resourceId: string): boolean;
  /** the provider confirmed this grant (grant.provisioned seen) */
  isProvisioned(grantId: string): boolean;
}

const NO_PROVIDERS: ProvisioningView = { hasProvider: () => false, isProvisioned: () => true };

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
export function noticeFor(event: LiveEvent, me: Viewer, provisioning: ProvisioningView = NO_PROVIDERS): NoticeDescriptor | undefined {
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
      return grant ? grantedNotice(grant, request, provisioning) : undefined;
    case 'grant.activated':
      if (!grant || grant.userId !== me.id || grant.status !== 'active') return undefined;
      return grantedNotice(grant, request, provisioning);
    case 'grant.provisioned':
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
    case 'grant.failed':
      // the approvers who let it through hear of it too (the server sends them this event)
      if (grant && grant.userId !== me.id && me.approverOf.includes(grant.resourceId)) {
        return { key: `failed:${grant.id}`, notice: { kind: 'approvedFailed', grant } };
      }
    // falls through: the owner's notice
    case 'grant.expired':
    case 'grant.revoked':
      if (!grant || grant.userId !== me.id) return undefined;
      return {
        key: endedKey(grant.id),
        notice: { kind: 'grantEnded', grant, how: event.type === 'grant.expired' ? 'expired' : event.type === 'grant.revoked' ? 'revoked' : 'failed' },
      };
    case 'request.created':
      // my own request (from any window or tool): one "waiting" notice, the same the command shows
      if (request?.requesterId === me.id) return request.status === 'pending' ? waitingNotice(request) : undefined;
      if (!request || request.status !== 'pending') return undefined;
      if (!me.approverOf.includes(request.resourceId) && !request.breakGlass) return undefined;
      return { key: `created:${request.id}`, notice: { kind: 'newRequest', request } };
    default:
      return undefined;
  }
}

const endedKey = (grantId: string) => `ended:${grantId}`;

/** The notice of one of my requests that waits for approvers (the command and the event share it). */
export function waitingNotice(request: AccessRequest): NoticeDescriptor {
  return { key: `waiting:${request.id}`, notice: { kind: 'waiting', request } };
}

/**
 * The notice of a grant of mine that just started (the command's answer and the events share it):
 * "getting ready" while its provider has not confirmed it, else "access granted".
 */
export function grantedNotice(grant: Grant, request: AccessRequest | undefined, provisioning: ProvisioningView = NO_PROVIDERS): NoticeDescriptor {
  return provisioning.hasProvider(grant.resourceId) && !provisioning.isProvisioned(grant.id)
    ? { key: `ready:${grant.id}`, notice: { kind: 'gettingReady', request, grant } }
    : { key: `decided:${grant.requestId}`, notice: { kind: 'approved', request, grant } };
}

/**
 * The notification for a grant whose terminals or copied credentials were let go of: the one end
 * notice of that grant (same key as the event's, which stands down for it), saying what was closed
 * or cleared. Nothing when the user relinquished it and nothing was left to let go of.
 */
export function noticeForRelease(r: Released): NoticeDescriptor | undefined {
  if (r.reason === 'relinquished' && !r.terminals && !r.clipboard) return undefined;
  return {
    key: endedKey(r.grant.id),
    notice: { kind: 'grantEnded', grant: r.grant, how: r.reason, released: { terminals: r.terminals, clipboard: r.clipboard } },
  };
}

/**
 * A notification's text with no link in it: VS Code turns `[label](command:…)` in a notification
 * into a clickable link, so user text (a justification, a reason, a comment) could otherwise plant
 * a command link. Breaking the `](` pair leaves the words readable and inert.
 */
export function inertNotificationText(text: string): string {
  return text.replace(/\]\s*\(/g, '] (');
}
