// Domain record → wire conversions. Rule 1 lives here too: a grant read at or after its expiresAt is
// presented as expired even if the sweep has not committed that yet.
import { iso } from '../domain/clock.js';
import type { Resource } from '../domain/types.js';
import type { AccessRequest, Grant, ResourceView } from '../protocol/index.js';
import type { ApprovalRecord, GrantRecord, RequestRecord } from '../store/types.js';

/** `addedWithoutApprovalSeconds`: what the engine computes for an active grant (0 for ended ones). */
export function grantView(g: GrantRecord, now: number, addedWithoutApprovalSeconds = 0): Grant {
  const lapsed = g.status === 'active' && now >= g.expiresAt;
  const ended = !lapsed && g.status !== 'active';
  return {
    id: g.id,
    requestId: g.requestId,
    userId: g.userId,
    resourceId: g.resourceId,
    role: g.role,
    startsAt: iso(g.startsAt),
    expiresAt: iso(g.expiresAt),
    maxExpiresAt: iso(g.maxExpiresAt),
    status: lapsed ? 'expired' : g.status,
    extensions: g.extensions,
    addedWithoutApprovalSeconds,
    revokePending: g.revokePending,
    ...(lapsed && { endedAt: iso(g.expiresAt), endedBy: 'system', endReason: 'expired' }),
    ...(ended && g.endedAt !== null && { endedAt: iso(g.endedAt) }),
    ...(ended && g.endedBy !== null && { endedBy: g.endedBy }),
    ...(ended && g.endReason !== null && { endReason: g.endReason }),
  };
}

const str = JSON.stringify as (s: string) => string;
// JSON.stringify's number: non-finite ones are null
const num = (n: number): string => (Number.isFinite(n) ? String(n) : 'null');

/**
 * grantView's JSON, written out: exactly the bytes of JSON.stringify(grantView(g, now, added))
 * (test/unit/liveJson.test.ts holds them equal), without building the view first. Every grant
 * event's live payload carries it: the catch-up sweep after downtime writes 100,000 of them.
 */
export function grantViewJson(g: GrantRecord, now: number, addedWithoutApprovalSeconds = 0): string {
  const lapsed = g.status === 'active' && now >= g.expiresAt;
  const ended = !lapsed && g.status !== 'active';
  const expiresAt = iso(g.expiresAt);
  let out =
    `{"id":${str(g.id)},"requestId":${str(g.requestId)},"userId":${str(g.userId)},"resourceId":${str(g.resourceId)},"role":${str(g.role)},` +
    `"startsAt":"${iso(g.startsAt)}","expiresAt":"${expiresAt}","maxExpiresAt":"${iso(g.maxExpiresAt)}",` +
    `"status":${lapsed ? '"expired"' : str(g.status)},"extensions":${num(g.extensions)},"addedWithoutApprovalSeconds":${num(addedWithoutApprovalSeconds)},` +
    `"revokePending":${g.revokePending}`;
  if (lapsed) out += `,"endedAt":"${expiresAt}","endedBy":"system","endReason":"expired"`;
  if (ended) {
    if (g.endedAt !== null) out += `,"endedAt":"${g.endedAt === g.expiresAt ? expiresAt : iso(g.endedAt)}"`;
    if (g.endedBy !== null) out += `,"endedBy":${str(g.endedBy)}`;
    if (g.endReason !== null) out += `,"endReason":${str(g.endReason)}`;
  }
  return `${out}}`;
}

export function requestView(r: RequestRecord, approvals: ApprovalRecord[], now: number): AccessRequest {
  // a pending request past its deadline is expired whatever the sweep is doing
  const status = r.status === 'pending' && now >= r.pendingUntil ? 'expired' : r.status;
  return {
    id: r.id,
    requesterId: r.requesterId,
    resourceId: r.resourceId,
    role: r.role,
    durationSeconds: r.durationS,
    justification: r.justification,
    ticket: r.ticket,
    status,
    kind: r.kind,
    ...(r.grantId !== null && { grantId: r.grantId }),
    approvals: approvals.map((a) => ({ approverId: a.approverId, decision: a.decision, comment: a.comment, at: iso(a.at) })),
    requiredApprovals: r.required,
    autoApproved: r.autoApproved,
    breakGlass: r.breakGlass,
    evaluation: r.evaluation,
    createdAt: iso(r.createdAt),
    decidedAt: r.decidedAt === null ? (status === 'expired' ? iso(r.pendingUntil) : null) : iso(r.decidedAt),
    pendingUntil: iso(r.pendingUntil),
  };
}

export function resourceView(r: Resource): ResourceView {
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    roles: r.roles,
    maxDurationSeconds: r.maxDurationSeconds,
    defaultDurationSeconds: r.defaultDurationSeconds,
    requireTicket: r.requireTicket,
    breakGlass: r.breakGlass,
    pendingTtlSeconds: r.pendingTtlSeconds,
    approval: {
      required: r.approval.required,
      approvers: r.approval.approvers,
      autoApprove: r.approval.autoApprove.map((a) => ({
        roles: a.roles,
        maxDurationSeconds: a.maxDurationSeconds,
        ...(a.groups && { groups: a.groups }),
        ...(a.window && { window: a.window.source }),
      })),
    },
    extension: { maxTotalSeconds: r.extension.maxTotalSeconds, withoutApprovalSeconds: r.extension.withoutApprovalSeconds },
    ...(r.hints && { hints: r.hints }),
    provider: { type: r.provider.type },
  };
}
