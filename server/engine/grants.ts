// Use cases of a running grant: its owner extends it (at once within the budget without
// approval, else as an extension request) or gives it up; an approver or admin revokes it.
import { conflict, forbidden, policyViolation } from '../errors.js';
import { newId } from '../domain/ids.js';
import { evaluateExtension } from '../domain/evaluate.js';
import { canEverBeApproved } from '../domain/policy.js';
import { canExtend, canRelinquish, canRevoke } from '../domain/rights.js';
import type { RequestRecord } from '../store/types.js';
import type { AccessRequest, ExtendBody, Grant } from '../protocol/index.js';
import { type Actor, type Core, addedWithoutApproval } from './change.js';
import { events } from './events.js';
import { resourceOf, visibleGrant } from './reads.js';
import { applyExtension, clientOf, endGrant } from './steps.js';

export function extend(
  core: Core,
  actor: Actor,
  grantId: string,
  body: ExtendBody,
): Promise<{ status: 200; grant: Grant } | { status: 202; request: AccessRequest }> {
  return core.change(async (c) => {
    const { tx, now } = c;
    const policy = core.policy();
    const g = await visibleGrant(core, tx, actor, grantId);
    if (!canExtend(actor.user, g)) throw forbidden('only the grant owner can extend it');
    const res = resourceOf(core, g.resourceId);
    // policy first (422 before 409)
    const ev = evaluateExtension(
      res,
      { startsAt: g.startsAt, expiresAt: g.expiresAt, addedWithoutApprovalSeconds: await addedWithoutApproval(tx, g) },
      body.durationSeconds,
      now,
    );
    if (!ev.allowed) throw policyViolation(ev.violations);
    if (!ev.atOnce && !canEverBeApproved(policy, res, actor.user.id)) {
      throw policyViolation([`an extension of ${body.durationSeconds}s needs approval, but ${res.id} has no approver other than you`]);
    }
    if (g.status !== 'active' || now >= g.expiresAt) throw conflict('grant is no longer active');
    if (ev.atOnce) {
      await applyExtension(c, policy, g, body.durationSeconds, actor.user.id, { justification: body.justification ?? null, ...clientOf(actor) });
      return { status: 200 as const, grant: await c.final.grant(grantId) };
    }
    if (await tx.requests.pendingExtension(grantId)) throw conflict('an extension request for this grant is already pending');
    const r: RequestRecord = {
      seq: 0,
      id: newId('req'),
      kind: 'extension',
      requesterId: actor.user.id,
      resourceId: g.resourceId,
      role: g.role,
      durationS: body.durationSeconds,
      justification: body.justification ?? '',
      ticket: null,
      status: 'pending',
      grantId,
      required: res.approval.required,
      autoApproved: false,
      breakGlass: false,
      evaluation: { reasons: ev.reasons },
      createdAt: now,
      decidedAt: null,
      // an extension request is pointless once its grant has ended
      pendingUntil: Math.min(now + res.pendingTtlSeconds * 1000, g.expiresAt),
    };
    const { seq: _, ...row } = r;
    await tx.requests.insert(row);
    c.emit(events.extensionRequested(now, r, body.justification ?? null, clientOf(actor)));
    return { status: 202 as const, request: await c.final.request(r.id) };
  });
}

export function relinquish(core: Core, actor: Actor, grantId: string): Promise<{ grant: Grant }> {
  return core.change(async (c) => {
    const { tx, now } = c;
    const g = await visibleGrant(core, tx, actor, grantId);
    if (!canRelinquish(actor.user, g)) throw forbidden('only the grant owner can relinquish it');
    if (g.status !== 'active' || now >= g.expiresAt) throw conflict('grant is no longer active');
    await endGrant(c, core.policy(), g, 'relinquished', actor.user.id, 'relinquished by owner', { ...clientOf(actor) });
    return { grant: await c.final.grant(grantId) };
  });
}

export function revoke(core: Core, actor: Actor, grantId: string, reason: string): Promise<{ grant: Grant }> {
  return core.change(async (c) => {
    const { tx, now } = c;
    const g = await visibleGrant(core, tx, actor, grantId);
    if (!canRevoke(core.policy(), actor.user, g)) throw forbidden('only an approver of the resource or an admin can revoke a grant');
    if (g.status !== 'active' || now >= g.expiresAt) throw conflict('grant is no longer active');
    await endGrant(c, core.policy(), g, 'revoked', actor.user.id, reason, { reason, ...clientOf(actor) });
    return { grant: await c.final.grant(grantId) };
  });
}
