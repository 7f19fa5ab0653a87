// Use cases of a request's life before its decision: the dry run, asking for access (approved at
// once when auto-approval or break-glass says so) and the requester cancelling it.
import { conflict, forbidden, policyViolation } from '../errors.js';
import { newId } from '../domain/ids.js';
import { dryRunReasons, evaluateRequest } from '../domain/evaluate.js';
import { canCancel } from '../domain/rights.js';
import type { RequestRecord } from '../store/types.js';
import type { AccessRequest, CreateRequestBody, Grant } from '../protocol/index.js';
import { type Actor, type Core } from './change.js';
import { resourceOf, visibleRequest } from './reads.js';
import { SYSTEM, events } from './events.js';
import { approvedAndActive, cancelRequest, clientOf } from './steps.js';

export function dryRun(core: Core, actor: Actor, body: CreateRequestBody) {
  const res = resourceOf(core, body.resourceId);
  // the same decision as createRequest makes
  const ev = evaluateRequest(core.policy(), body, actor.user, core.clock.now());
  return {
    allowed: ev.allowed,
    autoApproved: ev.allowed && (ev.autoApproved || ev.breakGlass),
    ...(ev.autoApproveRule !== undefined && { autoApproveRule: ev.autoApproveRule }),
    reasons: dryRunReasons(ev),
    resourceId: res.id,
  };
}

export async function createRequest(core: Core, actor: Actor, body: CreateRequestBody): Promise<{ request: AccessRequest; grant?: Grant }> {
  const res = resourceOf(core, body.resourceId);
  const ev = evaluateRequest(core.policy(), body, actor.user, core.clock.now());
  if (!ev.allowed) throw policyViolation(ev.violations);
  return core.change(async (c) => {
    const { tx, now } = c;
    const r: RequestRecord = {
      seq: 0,
      id: newId('req'),
      kind: 'access',
      requesterId: actor.user.id,
      resourceId: res.id,
      role: body.role,
      durationS: body.durationSeconds,
      justification: body.justification,
      ticket: body.ticket ?? null,
      status: 'pending',
      grantId: null,
      required: res.approval.required,
      autoApproved: ev.autoApproved,
      breakGlass: ev.breakGlass,
      evaluation: { ...(ev.autoApproveRule !== undefined && { autoApproveRule: ev.autoApproveRule }), reasons: ev.reasons },
      createdAt: now,
      decidedAt: null,
      pendingUntil: now + res.pendingTtlSeconds * 1000,
    };
    const { seq: _, ...row } = r;
    if (!ev.autoApproved && !ev.breakGlass) {
      await tx.requests.insert(row);
      c.final.written(r, []);
      c.emit(events.accessRequested(now, r, clientOf(actor), body.via));
      return { request: await c.final.request(r.id) };
    }
    // approved at once: the request is written approved (one write, not an insert and a
    // decision); its events are the same as for a request created pending, then approved
    const grantId = newId('grt');
    const approved: RequestRecord = { ...r, status: 'approved', grantId, decidedAt: now };
    const { seq: __, ...approvedRow } = approved;
    await tx.requests.insert(approvedRow);
    c.final.written(approved, []);
    c.emit(events.accessRequested(now, r, clientOf(actor), body.via));
    await approvedAndActive(c, res, r, grantId, ev.breakGlass ? actor.user.id : SYSTEM, {
      how: ev.breakGlass ? 'break-glass' : 'auto',
      ...(ev.autoApproveRule !== undefined && { autoApproveRule: ev.autoApproveRule }),
      breakGlass: ev.breakGlass,
    });
    return { request: await c.final.request(r.id), grant: await c.final.grant(grantId) };
  });
}

export function cancel(core: Core, actor: Actor, id: string): Promise<{ request: AccessRequest }> {
  return core.change(async (c) => {
    const { tx, now } = c;
    const r = await visibleRequest(core, tx, actor, id);
    if (!canCancel(actor.user, r)) throw forbidden('only the requester can cancel a request');
    if (r.status !== 'pending' || now >= r.pendingUntil) throw conflict(`request is already ${r.status === 'pending' ? 'expired' : r.status}`);
    await cancelRequest(c, r, actor.user.id, 'cancelled by requester', { ...clientOf(actor) });
    return { request: await c.final.request(id) };
  });
}
