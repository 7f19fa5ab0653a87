// Who may see or do what: the one place that decides every right. Every route, the engine and
// the event streams ask here, always with the policy in force now and the user as that policy
// knows them now (never rights remembered from sign-in or from when a stream was opened).
//
// The contract's shape of a refusal: an object the caller may not see is 404, one they may see
// but not act on is 403 (and a requester deciding their own request is `self_approval`).
import { isApprover } from './policy.js';
import type { Policy, PolicyUser } from './types.js';

/** What a right is about: a request or a grant, by its owner and resource. */
export interface RequestSubject {
  requesterId: string;
  resourceId: string;
}
export interface GrantSubject {
  userId: string;
  resourceId: string;
}
/** An audit event, as far as who may receive or read it goes. */
export interface EventSubject {
  action: string;
  actorId: string;
  resourceId?: string | null;
  /** the requester or grant owner the event is about */
  subjectId?: string | null;
}

export const isAdmin = (u: PolicyUser): boolean => u.roles.includes('admin');
export const isAuditor = (u: PolicyUser): boolean => u.roles.includes('auditor');

/** Whether the user approves requests for this resource under the current policy. */
export function approves(policy: Policy, u: PolicyUser, resourceId: string): boolean {
  const res = policy.resources.get(resourceId);
  return res !== undefined && isApprover(policy, u.id, res);
}

/** Resource ids the user approves, in policy order. */
export function approvedResources(policy: Policy, u: PolicyUser): string[] {
  return [...policy.resources.values()].filter((r) => isApprover(policy, u.id, r)).map((r) => r.id);
}

/** view: the requester, the resource's approvers, admins and auditors. */
export function canViewRequest(policy: Policy, u: PolicyUser, r: RequestSubject): boolean {
  return r.requesterId === u.id || isAdmin(u) || isAuditor(u) || approves(policy, u, r.resourceId);
}

/** view: the owner, the resource's approvers, admins and auditors. */
export function canViewGrant(policy: Policy, u: PolicyUser, g: GrantSubject): boolean {
  return g.userId === u.id || isAdmin(u) || isAuditor(u) || approves(policy, u, g.resourceId);
}

/** decide (approve, deny): an approver of the resource who is not the requester. */
export function decideRight(policy: Policy, u: PolicyUser, r: RequestSubject): 'ok' | 'self' | 'not_approver' {
  if (r.requesterId === u.id) return 'self';
  return approves(policy, u, r.resourceId) ? 'ok' : 'not_approver';
}

/** cancel a request: its requester. */
export const canCancel = (u: PolicyUser, r: RequestSubject): boolean => r.requesterId === u.id;

/** The grant's owner: the only one who holds the access. */
export const isOwner = (u: PolicyUser, g: GrantSubject): boolean => g.userId === u.id;

/** extend a grant: its owner (others ask for access of their own). */
export const canExtend = (u: PolicyUser, g: GrantSubject): boolean => isOwner(u, g);

/** relinquish a grant: its owner (others revoke, which needs canRevoke). */
export const canRelinquish = (u: PolicyUser, g: GrantSubject): boolean => isOwner(u, g);

/** readCredentials of a grant: its owner only (not even admins: secrets are for who holds the access). */
export const canReadCredentials = (u: PolicyUser, g: GrantSubject): boolean => isOwner(u, g);

/** revoke: an approver of the resource or an admin. */
export function canRevoke(policy: Policy, u: PolicyUser, g: GrantSubject): boolean {
  return isAdmin(u) || approves(policy, u, g.resourceId);
}

/** seeAllAudit (every event, and verifying the chain): auditors and admins. */
export const canSeeAllAudit = (u: PolicyUser): boolean => isAdmin(u) || isAuditor(u);

/** check (GET /v1/check, for target systems): the service role and admins. */
export const canCheck = (u: PolicyUser): boolean => u.roles.includes('service') || isAdmin(u);

/**
 * metrics (GET /metrics): the service role (a Prometheus scraper's token) and admins. Counts of
 * grants and requests say who is busy when; they are not for every user.
 */
export const canReadMetrics = (u: PolicyUser): boolean => u.roles.includes('service') || isAdmin(u);

/**
 * Which grants `scope=all` lists: every grant for admins and auditors, those of the resources
 * they approve for approvers, and null (403) for anyone else.
 */
export function allGrantsScope(policy: Policy, u: PolicyUser): { resourceIds?: string[] } | null {
  if (isAdmin(u) || isAuditor(u)) return {};
  const mine = approvedResources(policy, u);
  return mine.length ? { resourceIds: mine } : null;
}

/**
 * A grant's life as those who may revoke it follow it (their list of access they may end): it
 * starts, is extended, ends. Not its expiry warnings or provisioning steps, which are the owner's.
 */
const GRANT_LIFE = new Set(['grant.activated', 'grant.extended', 'grant.expired', 'grant.revoked', 'grant.relinquished']);

/**
 * Whether a live event (or its replay) goes to this user: admins get everything; the requester
 * or owner their own; approvers of a resource its requests, the life of its grants (they may
 * revoke them) and its failed provisionings (access they approved that could not be set up).
 * Failed revocations are for admins.
 */
export function receivesEvent(policy: Policy, u: PolicyUser, e: EventSubject): boolean {
  if (isAdmin(u) || e.action === 'policy.reloaded') return true;
  if (e.action === 'grant.revoke_failed') return false;
  if (e.subjectId === u.id) return true;
  const forApprovers = e.action.startsWith('request.') || e.action === 'grant.failed' || GRANT_LIFE.has(e.action);
  return forApprovers && !!e.resourceId && approves(policy, u, e.resourceId);
}

/**
 * Whether the reader may see where an action came from (the actor's IP address and user agent):
 * their own actions, and everyone's for auditors and admins. A requester reading the events about
 * their request sees who approved it, not from where.
 */
export const seesClientOf = (u: PolicyUser, e: Pick<EventSubject, 'actorId'>): boolean => e.actorId === u.id || canSeeAllAudit(u);

/**
 * The earlier approvals of a request as the current policy sees them: those of people who still
 * approve its resource count, the others (removed, or no longer approvers) do not; `required`
 * is the resource's current one (the request's own if the resource has gone).
 */
export function tallyApprovals(
  policy: Policy,
  resourceId: string,
  requiredWhenMade: number,
  approvals: readonly { approverId: string; decision: string }[],
): { required: number; counted: string[]; notCounted: string[] } {
  const res = policy.resources.get(resourceId);
  const counted: string[] = [];
  const notCounted: string[] = [];
  for (const a of approvals) {
    if (a.decision !== 'approve') continue;
    const approver = policy.users.get(a.approverId);
    if (approver && res && approves(policy, approver, res.id)) counted.push(a.approverId);
    else notCounted.push(a.approverId);
  }
  return { required: res?.approval.required ?? requiredWhenMade, counted, notCounted };
}

/** Audit details keys that describe the actor's client, hidden by seesClientOf. */
export const CLIENT_DETAIL_KEYS = ['ip', 'userAgent'] as const;
