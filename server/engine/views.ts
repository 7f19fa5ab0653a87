// Row → wire conversions. Rule 1 lives here too: a grant read at or after its expiresAt is
// presented as expired even if the sweep has not committed that yet.
import { iso } from '../domain/clock.js';
import type { Resource } from '../domain/types.js';
import type { AccessRequest, Grant, ResourceView } from '../protocol/index.js';
import type { ApprovalRow, GrantRow, RequestRow } from '../db/store.js';

/** `addedWithoutApprovalSeconds`: Store.secondsAddedWithoutApproval(g), for active grants. */
export function grantView(g: GrantRow, now: number, addedWithoutApprovalSeconds = 0): Grant {
  const lapsed = g.status === 'active' && now >= g.expires_at;
  const ended = !lapsed && g.status !== 'active';
  return {
    id: g.id,
    requestId: g.request_id,
    userId: g.user_id,
    resourceId: g.resource_id,
    role: g.role,
    startsAt: iso(g.starts_at),
    expiresAt: iso(g.expires_at),
    maxExpiresAt: iso(g.max_expires_at),
    status: lapsed ? 'expired' : g.status,
    extensions: g.extensions,
    addedWithoutApprovalSeconds,
    revokePending: g.revoke_pending === 1,
    ...(lapsed && { endedAt: iso(g.expires_at), endedBy: 'system', endReason: 'expired' }),
    ...(ended && g.ended_at !== null && { endedAt: iso(g.ended_at) }),
    ...(ended && g.ended_by !== null && { endedBy: g.ended_by }),
    ...(ended && g.end_reason !== null && { endReason: g.end_reason }),
  };
}

export function requestView(r: RequestRow, approvals: ApprovalRow[], now: number): AccessRequest {
  // a pending request past its deadline is expired whatever the sweep is doing
  const status = r.status === 'pending' && now >= r.pending_until ? 'expired' : r.status;
  const evaluation = JSON.parse(r.evaluation) as AccessRequest['evaluation'];
  return {
    id: r.id,
    requesterId: r.requester_id,
    resourceId: r.resource_id,
    role: r.role,
    durationSeconds: r.duration_s,
    justification: r.justification,
    ticket: r.ticket,
    status,
    kind: r.kind,
    ...(r.grant_id !== null && { grantId: r.grant_id }),
    approvals: approvals.map((a) => ({ approverId: a.approver_id, decision: a.decision, comment: a.comment, at: iso(a.at) })),
    requiredApprovals: r.required,
    autoApproved: r.auto_approved === 1,
    breakGlass: r.break_glass === 1,
    evaluation,
    createdAt: iso(r.created_at),
    decidedAt: r.decided_at === null ? (status === 'expired' ? iso(r.pending_until) : null) : iso(r.decided_at),
    pendingUntil: iso(r.pending_until),
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
