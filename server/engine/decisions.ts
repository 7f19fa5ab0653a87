// Use cases of an approver's decision: approve (recorded, or completing the request: an access
// request starts its grant, an extension request extends it) and deny. Who may decide, and which
// earlier approvals still count, is decided by domain/rights.ts under the policy in force now.
import { ApiError, conflict, forbidden, policyViolation } from '../errors.js';
import { decideRight, tallyApprovals } from '../domain/rights.js';
import type { AccessRequest, Grant } from '../protocol/index.js';
import { type Actor, type Core, applied } from './change.js';
import { events } from './events.js';
import { resourceOf, visibleRequest } from './reads.js';
import { applyExtension, approveAndActivate, clientOf, expireRequest } from './steps.js';

export async function decide(
  core: Core,
  actor: Actor,
  id: string,
  decision: 'approve' | 'deny',
  text: string | undefined,
): Promise<{ request: AccessRequest; grant?: Grant }> {
  const u = actor.user;
  const out = await core.change(async (c): Promise<{ request: AccessRequest; grant?: Grant } | 'late'> => {
    const { tx, now } = c;
    const policy = core.policy();
    const r = await visibleRequest(core, tx, actor, id);
    const right = decideRight(policy, u, r);
    if (right === 'self') throw new ApiError('self_approval', 'you cannot decide your own request');
    if (right === 'not_approver') throw forbidden(`you are not an approver of ${r.resourceId}`);
    if (r.status !== 'pending') throw conflict(`request is already ${r.status}`);
    if (now >= r.pendingUntil) {
      // decided too late: record the expiry now rather than leaving it to the sweep
      await expireRequest(c, r);
      return 'late';
    }
    // (add() refuses a second decision by the same approver; a refused change writes nothing)
    applied(await tx.approvals.add({ requestId: id, approverId: u.id, decision, comment: text ?? null, at: now }), 'you have already decided this request');
    // the policy may have changed since the request was made (rule 4 holds at approval too)
    const res = policy.resources.get(r.resourceId);
    if (decision === 'approve' && r.kind === 'access' && res && r.durationS > res.maxDurationSeconds) {
      throw policyViolation([`durationSeconds ${r.durationS} exceeds the current maxDuration ${res.maxDurationSeconds}s for ${res.id}; ask for a new request`]);
    }
    // the others' approvals are read after add(), which on PostgreSQL first locks the request:
    // so they include every one a concurrent approver committed meanwhile. Read before it, two
    // approvers each completing the other's count would each see only their own (write skew)
    // and neither would approve.
    const all = await tx.approvals.of(id);
    const approvals = all.filter((a) => a.approverId !== u.id);
    if (decision === 'deny') {
      applied(await tx.requests.decide(id, 'denied', now, null, 'pending'), 'request was decided meanwhile');
      c.emit(events.requestDenied(now, u.id, r, text ?? null, clientOf(actor)));
      return { request: await c.final.request(id) };
    }
    // the policy in force now decides (rule 2 under reloads): its `required`, and only the
    // approvals of people who still approve this resource; the others are named, not counted
    const tally = tallyApprovals(policy, r.resourceId, r.required, approvals);
    const count = tally.counted.length + 1;
    const notCounted = tally.notCounted.length ? { notCounted: tally.notCounted } : {};
    if (count < tally.required) {
      c.emit(events.approvalRecorded(now, u.id, r, { comment: text ?? null, approvals: count, required: tally.required, ...notCounted, ...clientOf(actor) }));
      return { request: await c.final.request(id) };
    }
    const details = {
      how: 'approvers',
      comment: text ?? null,
      approvers: [...tally.counted, u.id],
      required: tally.required,
      ...notCounted,
      ...clientOf(actor),
    };
    if (r.kind === 'access') {
      const grantId = await approveAndActivate(c, resourceOf(core, r.resourceId), r, u.id, details);
      c.final.written({ ...r, status: 'approved', decidedAt: now, grantId }, all);
      return { request: await c.final.request(id), grant: await c.final.grant(grantId) };
    }
    // extension: add the seconds to expiresAt as it is now, capped by maxTotal
    const g = (await tx.grants.get(r.grantId!))!;
    applied(await tx.requests.decide(id, 'approved', now, null, 'pending'), 'request was decided meanwhile');
    c.emit(events.requestApproved(now, u.id, r, g.id, { ...details, kind: 'extension' }));
    await applyExtension(c, policy, g, r.durationS, u.id, { requestId: id, justification: r.justification });
    return { request: await c.final.request(id), grant: await c.final.grant(g.id) };
  });
  if (out === 'late') throw conflict('request has expired');
  return out;
}
