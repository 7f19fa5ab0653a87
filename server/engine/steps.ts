// The state transitions the use cases are made of, each a conditional update with its audit
// event: a request decided, a grant started, extended or ended, provider work queued. A step
// whose update does not apply (another writer got there first) throws a 409 (change.applied).
import { newId } from '../domain/ids.js';
import type { Policy, Resource } from '../domain/types.js';
import { type GrantRecord, type RequestRecord, newGrantRecord } from '../store/types.js';
import { type Change, applied } from './change.js';
import { type Client, type Emitted, SYSTEM, events } from './events.js';

export type OutboxKind = 'provision' | 'extend' | 'deprovision';

export const WARNINGS = [
  { bit: 1, seconds: 300 },
  { bit: 2, seconds: 60 },
] as const;

/** Warning bits already "spent" for a grant with `remainingMs` left: a grant shorter than a threshold gets no warning for it. */
export function warnedMask(remainingMs: number): number {
  return WARNINGS.reduce((m, w) => (remainingMs < w.seconds * 1000 ? m | w.bit : m), 0);
}

/**
 * Side effects on target systems go to the outbox inside the transaction (rule 3). The
 * provider config is copied in, so a grant whose resource later leaves the policy can still
 * be deprovisioned. type "none" has no side effects and writes nothing.
 */
export async function queueProviderWork(c: Change, kind: OutboxKind, grantId: string, res: Resource): Promise<void> {
  if (res.provider.type === 'none') return;
  await c.enqueue(kind, grantId, { grantId, provider: res.provider });
}

export async function cancelRequest(c: Change, r: RequestRecord, actorId: string, reason: string, extra: Record<string, unknown> = {}): Promise<void> {
  applied(await c.tx.requests.decide(r.id, 'cancelled', c.now, null, 'pending'), 'request was decided meanwhile');
  c.emit(events.requestCancelled(c.now, actorId, r, reason, extra));
}

export async function expireRequest(c: Change, r: RequestRecord): Promise<void> {
  applied(await c.tx.requests.decide(r.id, 'expired', r.pendingUntil, null, 'pending'), 'request was decided meanwhile');
  c.emit(events.requestExpired(c.now, r));
}

/** Marks a pending access request approved and starts its grant; the clock starts now. Returns the grant id. */
export async function approveAndActivate(c: Change, res: Resource, r: RequestRecord, actorId: string, details: Record<string, unknown>): Promise<string> {
  const grantId = newId('grt');
  applied(await c.tx.requests.decide(r.id, 'approved', c.now, grantId, 'pending'), 'request was decided meanwhile');
  await approvedAndActive(c, res, r, grantId, actorId, details);
  return grantId;
}

/**
 * What follows an access request's approval, once its record says so (decided above, or
 * inserted approved at once by createRequest): the approval's event and the grant `grantId`.
 */
export async function approvedAndActive(
  c: Change,
  res: Resource,
  r: RequestRecord,
  grantId: string,
  actorId: string,
  details: Record<string, unknown>,
): Promise<void> {
  const { tx, now } = c;
  c.emit(events.requestApproved(now, actorId, r, grantId, details));
  const expiresAt = now + r.durationS * 1000;
  const g = {
    id: grantId,
    requestId: r.id,
    userId: r.requesterId,
    resourceId: r.resourceId,
    role: r.role,
    startsAt: now,
    expiresAt,
    maxExpiresAt: Math.max(expiresAt, now + res.extension.maxTotalSeconds * 1000),
    warned: warnedMask(r.durationS * 1000),
  };
  await tx.grants.insert(g);
  c.final.insertedGrant(newGrantRecord(g));
  c.emit(events.grantActivated(now, actorId, g, r.breakGlass));
  await queueProviderWork(c, 'provision', grantId, res);
}

/** Adds `seconds` to the grant's end as it is now, capped by the current policy's maxTotal. */
export async function applyExtension(
  c: Change,
  policy: Policy,
  g: GrantRecord,
  seconds: number,
  actorId: string,
  extra: { requestId?: string } & Record<string, unknown>,
): Promise<void> {
  const { tx, now } = c;
  // the limit comes from the policy as it is now (it may have changed since the grant began)
  const res = policy.resources.get(g.resourceId);
  const limit = res ? g.startsAt + res.extension.maxTotalSeconds * 1000 : g.maxExpiresAt;
  const expiresAt = Math.max(g.expiresAt, Math.min(g.expiresAt + seconds * 1000, limit));
  // conditional on the end this decision read: two racing extensions never pass maxTotal
  applied(await tx.grants.extend(g.id, g.expiresAt, expiresAt, Math.max(limit, expiresAt)), 'grant ended or was extended meanwhile');
  await tx.grants.setWarned(g.id, warnedMask(expiresAt - now));
  c.emit(events.grantExtended(now, actorId, g, seconds, expiresAt, extra));
  if (res) await queueProviderWork(c, 'extend', g.id, res);
}

/** Ends an active grant (revoked, relinquished, or expired by reconcile), then what follows its end. */
export async function endGrant(
  c: Change,
  policy: Policy,
  g: GrantRecord,
  status: 'revoked' | 'relinquished',
  by: string,
  reason: string,
  details: Record<string, unknown>,
): Promise<void> {
  const needsDeprovision = (policy.resources.get(g.resourceId)?.provider.type ?? 'none') !== 'none';
  applied(await c.tx.grants.end(g.id, status, c.now, by, reason, needsDeprovision), 'grant ended meanwhile');
  const ended: GrantRecord = { ...g, status, endedAt: c.now, endedBy: by, endReason: reason, revokePending: needsDeprovision };
  await grantEnded(c, policy, ended, await c.tx.requests.pendingExtension(g.id), events.grantEnded(c.now, ended, details));
}

/**
 * What follows a grant's end, once its record says so: its pending extension, the audit event
 * (`event`: events.grantEnded, or grantExpired from the sweep), deprovisioning.
 */
export async function grantEnded(c: Change, policy: Policy, g: GrantRecord, pendingExtension: RequestRecord | undefined, event: Emitted): Promise<void> {
  if (pendingExtension) await cancelRequest(c, pendingExtension, SYSTEM, `grant ${g.status}`);
  c.emit(event);
  const res = policy.resources.get(g.resourceId);
  if (res) await queueProviderWork(c, 'deprovision', g.id, res);
}

/** Where a person's action came from, for the audit trail. */
export const clientOf = (a: { ip?: string; userAgent?: string }): Client => ({ ip: a.ip ?? null, userAgent: a.userAgent ?? null });
