// The access lifecycle: requests, decisions, grants, extensions, endings, expiry. Every state
// change runs in one transaction together with its audit events and outbox rows (rule 3);
// listeners (live events, scheduler, outbox worker) hear about it only after commit.
import { ApiError, conflict, forbidden, notFound, policyViolation } from '../errors.js';
import type { Clock } from '../domain/clock.js';
import { iso } from '../domain/clock.js';
import { newId } from '../domain/ids.js';
import { dryRunReasons, evaluateExtension, evaluateRequest } from '../domain/evaluate.js';
import { canEverBeApproved } from '../domain/policy.js';
import { allGrantsScope, approvedResources, approves, canCancel, tallyApprovals, canRevoke, canViewGrant, canViewRequest, decideRight, isOwner } from '../domain/rights.js';
import type { Policy, PolicyUser, ProviderConfig, Resource } from '../domain/types.js';
import type { AuditInput } from '../db/audit.js';
import type { GrantRow, RequestRow, Store } from '../db/store.js';
import type { AccessRequest, AuditEvent, CreateRequestBody, ExtendBody, Grant } from '../protocol/index.js';
import { grantView, requestView } from './views.js';
import { isSseType, liveEventJson } from './live.js';

/** Who is calling, as established by authentication. */
export interface Actor {
  user: PolicyUser;
  tokenId: string;
  ip?: string;
  userAgent?: string;
}

/** An audit event that was committed. */
export interface Committed {
  event: AuditEvent;
  subjectId?: string;
}

export type CommitListener = (items: Committed[]) => void;
export type AppendHook = (events: AuditEvent[], now: number) => void;

const SYSTEM = 'system';
export type OutboxKind = 'provision' | 'extend' | 'deprovision';
export const WARNINGS = [
  { bit: 1, seconds: 300 },
  { bit: 2, seconds: 60 },
] as const;
const SWEEP_BATCH = 1000;

interface Pending {
  audit: AuditInput;
  request?: () => AccessRequest;
  grant?: () => Grant;
}

export class Engine {
  private listeners: CommitListener[] = [];
  private appendHooks: AppendHook[] = [];

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private policyRef: { current: Policy },
  ) {}

  get policy(): Policy {
    return this.policyRef.current;
  }

  onCommit(l: CommitListener): void {
    this.listeners.push(l);
  }

  /**
   * Runs inside the transaction, right after the audit events are appended: for side effects
   * that must be queued atomically with the change (rule 3), such as notifications. A hook that
   * throws rolls the change back, so hooks only write outbox rows.
   */
  onAppend(h: AppendHook): void {
    this.appendHooks.push(h);
  }

  // ---------- transactions ----------

  /**
   * Runs a state change in one transaction. `fn` records audit events through `emit`; they are
   * appended inside the same transaction, and listeners hear about them after commit.
   */
  private change<T>(fn: (emit: (p: Pending) => void, now: number) => T): T {
    const now = this.clock.now();
    let committed: Committed[] = [];
    const result = this.store.tx(() => {
      const pending: Pending[] = [];
      const r = fn((p) => pending.push(p), now);
      // stream events carry their payload into the log, with the request and grant as they are
      // at the end of this transaction: exactly the state that commits with the event
      const inputs = pending.map(({ audit, request, grant }) =>
        isSseType(audit.action) ? { ...audit, live: liveEventJson({ ...audit, action: audit.action }, request?.(), grant?.()) } : audit,
      );
      const events = this.store.audit.append(inputs);
      for (const h of this.appendHooks) h(events, now);
      committed = events.map((event, i) => ({ event, subjectId: pending[i].audit.subjectId }));
      return r;
    });
    // with group commit (Store.tx) the commit comes at the end of this event-loop turn
    this.store.afterCommit((err) => {
      if (err === undefined && committed.length) for (const l of this.listeners) l(committed);
    });
    return result;
  }

  private requestNow(id: string, now: number): AccessRequest {
    const r = this.store.request(id)!;
    return requestView(r, this.store.approvals(id), now);
  }

  private grantNow(id: string, now: number): Grant {
    const g = this.store.grant(id)!;
    return grantView(g, now, this.store.secondsAddedWithoutApproval(g));
  }

  // ---------- visibility (the rights themselves are decided in domain/rights.ts) ----------

  private visibleRequest(actor: Actor, id: string): RequestRow {
    const r = this.store.request(id);
    if (!r || !canViewRequest(this.policy, actor.user, { requesterId: r.requester_id, resourceId: r.resource_id })) throw notFound('request', id);
    return r;
  }

  private visibleGrant(actor: Actor, id: string): GrantRow {
    const g = this.store.grant(id);
    if (!g || !canViewGrant(this.policy, actor.user, { userId: g.user_id, resourceId: g.resource_id })) throw notFound('grant', id);
    return g;
  }

  private resource(id: string): Resource {
    const r = this.policy.resources.get(id);
    if (!r) throw notFound('resource', id);
    return r;
  }

  // ---------- reads ----------

  getRequest(actor: Actor, id: string): { request: AccessRequest; requesterHistory?: AccessRequest[] } {
    const now = this.clock.now();
    const r = this.visibleRequest(actor, id);
    const request = requestView(r, this.store.approvals(id), now);
    if (r.requester_id !== actor.user.id && approves(this.policy, actor.user, r.resource_id)) {
      // only requests the approver could open on their own: not those for resources they do not approve
      const history = this.store
        .requestsBy(r.requester_id, 200)
        .filter((h) => h.id !== id && canViewRequest(this.policy, actor.user, { requesterId: h.requester_id, resourceId: h.resource_id }))
        .slice(0, 10)
        .map((h) => requestView(h, this.store.approvals(h.id), now));
      return { request, requesterHistory: history };
    }
    return { request };
  }

  listRequests(actor: Actor, scope: 'mine' | 'reviewable', status?: AccessRequest['status']): AccessRequest[] {
    const now = this.clock.now();
    const u = actor.user;
    let rows: RequestRow[];
    if (scope === 'mine') {
      rows = this.store.requestsBy(u.id, 200, status);
    } else {
      const mine = approvedResources(this.policy, u);
      rows = this.store
        .requestsForResources(mine, status ?? 'pending', 500)
        .filter((r) => r.requester_id !== u.id)
        // pending ones the caller already approved are no longer theirs to decide
        .filter((r) => r.status !== 'pending' || !this.store.approvals(r.id).some((a) => a.approver_id === u.id));
    }
    const out = rows.map((r) => requestView(r, this.store.approvals(r.id), now));
    // a pending row past its deadline reads as expired (rule-1 style); keep the filter honest
    return status ? out.filter((r) => r.status === status) : out;
  }

  getGrant(actor: Actor, id: string): Grant {
    const g = this.visibleGrant(actor, id);
    return grantView(g, this.clock.now(), this.store.secondsAddedWithoutApproval(g));
  }

  listGrants(
    actor: Actor,
    q: { scope: 'mine' | 'all'; status?: Grant['status']; limit: number; cursor?: string },
  ): { grants: Grant[]; nextCursor: string | null } {
    const now = this.clock.now();
    const u = actor.user;
    const beforeSeq = q.cursor !== undefined ? decodeCursor(q.cursor) : undefined;
    let filter: { userId?: string; resourceIds?: string[] };
    if (q.scope === 'mine') filter = { userId: u.id };
    else {
      const scope = allGrantsScope(this.policy, u);
      if (!scope) throw forbidden('scope=all needs the admin or auditor role, or approver rights on a resource');
      filter = scope;
    }
    // status is filtered on the presented view (rule 1): a lapsed "active" row is expired
    const want = q.status;
    const out: Grant[] = [];
    let cursorSeq = beforeSeq;
    let more = false;
    for (;;) {
      const dbStatus = want === 'active' ? 'active' : want === 'expired' ? undefined : want;
      const rows = this.store.listGrants({ ...filter, status: dbStatus, beforeSeq: cursorSeq, limit: q.limit + 1 });
      for (const row of rows) {
        const g = grantView(row, now, row.status === 'active' ? this.store.secondsAddedWithoutApproval(row) : 0);
        cursorSeq = row.seq;
        if (want && g.status !== want) continue;
        if (out.length === q.limit) {
          more = true;
          break;
        }
        out.push(g);
      }
      if (more || rows.length <= q.limit) break;
    }
    const last = out.at(-1);
    const lastSeq = last ? this.store.grantSeq(last.id) : undefined;
    return { grants: out, nextCursor: more && lastSeq !== undefined ? encodeCursor(lastSeq) : null };
  }

  /** For target systems: is this access allowed right now? Compares with the clock at call time (rule 1). */
  check(userId: string, resourceId: string, role: string): { allowed: boolean; grantId?: string; expiresAt?: string } {
    const g = this.store.checkGrant(userId, resourceId, role, this.clock.now());
    return g ? { allowed: true, grantId: g.id, expiresAt: iso(g.expires_at) } : { allowed: false };
  }

  // ---------- requests ----------

  dryRun(actor: Actor, body: CreateRequestBody) {
    const res = this.resource(body.resourceId);
    const ev = evaluateRequest(this.policy, body, actor.user, this.clock.now());
    return {
      allowed: ev.allowed,
      autoApproved: ev.allowed && (ev.autoApproved || ev.breakGlass),
      ...(ev.autoApproveRule !== undefined && { autoApproveRule: ev.autoApproveRule }),
      reasons: dryRunReasons(ev),
      resourceId: res.id,
    };
  }

  createRequest(actor: Actor, body: CreateRequestBody): { request: AccessRequest; grant?: Grant } {
    const res = this.resource(body.resourceId);
    const ev = evaluateRequest(this.policy, body, actor.user, this.clock.now());
    if (!ev.allowed) throw policyViolation(ev.violations);
    return this.change((emit, now) => {
      const id = newId('req');
      const approvedAtOnce = ev.autoApproved || ev.breakGlass;
      this.store.insertRequest({
        id,
        kind: 'access',
        requester_id: actor.user.id,
        resource_id: res.id,
        role: body.role,
        duration_s: body.durationSeconds,
        justification: body.justification,
        ticket: body.ticket ?? null,
        status: 'pending',
        grant_id: null,
        required: res.approval.required,
        auto_approved: ev.autoApproved ? 1 : 0,
        break_glass: ev.breakGlass ? 1 : 0,
        evaluation: JSON.stringify({ ...(ev.autoApproveRule !== undefined && { autoApproveRule: ev.autoApproveRule }), reasons: ev.reasons }),
        created_at: now,
        decided_at: null,
        pending_until: now + res.pendingTtlSeconds * 1000,
      });
      emit({
        audit: {
          at: now,
          actorId: actor.user.id,
          action: 'request.created',
          resourceId: res.id,
          requestId: id,
          subjectId: actor.user.id,
          details: {
            kind: 'access',
            role: body.role,
            durationSeconds: body.durationSeconds,
            justification: body.justification,
            ticket: body.ticket ?? null,
            breakGlass: ev.breakGlass,
            reasons: ev.reasons,
            // with the above, what the state check (domain/stateReplay.ts) re-derives the row from
            required: res.approval.required,
            autoApproved: ev.autoApproved,
            ...(ev.autoApproveRule !== undefined && { autoApproveRule: ev.autoApproveRule }),
            pendingUntil: iso(now + res.pendingTtlSeconds * 1000),
            ip: actor.ip ?? null,
            userAgent: actor.userAgent ?? null,
            // marks requests a coding agent's tool made (the client says so; it proves nothing more)
            ...(body.via && { via: body.via }),
          },
        },
        request: () => this.requestNow(id, now),
      });
      if (!approvedAtOnce) return { request: this.requestNow(id, now) };
      const grantId = this.approveAndActivate(emit, now, id, ev.breakGlass ? actor.user.id : SYSTEM, {
        how: ev.breakGlass ? 'break-glass' : 'auto',
        ...(ev.autoApproveRule !== undefined && { autoApproveRule: ev.autoApproveRule }),
        breakGlass: ev.breakGlass,
      });
      return { request: this.requestNow(id, now), grant: this.grantNow(grantId, now) };
    });
  }

  /** Marks an access request approved and starts its grant; the clock starts now. */
  private approveAndActivate(emit: (p: Pending) => void, now: number, requestId: string, actorId: string, details: Record<string, unknown>): string {
    const r = this.store.request(requestId)!;
    const res = this.resource(r.resource_id);
    const grantId = newId('grt');
    applied(this.store.decideRequest(requestId, 'approved', now, grantId), 'request was decided meanwhile');
    emit({
      audit: { at: now, actorId, action: 'request.approved', resourceId: r.resource_id, requestId, grantId, subjectId: r.requester_id, details },
      request: () => this.requestNow(requestId, now),
    });
    const expiresAt = now + r.duration_s * 1000;
    this.store.insertGrant({
      id: grantId,
      request_id: requestId,
      user_id: r.requester_id,
      resource_id: r.resource_id,
      role: r.role,
      starts_at: now,
      expires_at: expiresAt,
      max_expires_at: Math.max(expiresAt, now + res.extension.maxTotalSeconds * 1000),
    });
    this.store.setWarned(grantId, warnedMask(r.duration_s * 1000));
    emit({
      audit: {
        at: now,
        actorId,
        action: 'grant.activated',
        resourceId: r.resource_id,
        requestId,
        grantId,
        subjectId: r.requester_id,
        details: { userId: r.requester_id, role: r.role, startsAt: iso(now), expiresAt: iso(expiresAt), breakGlass: r.break_glass === 1 },
      },
      grant: () => this.grantNow(grantId, now),
    });
    this.enqueue('provision', grantId, res, now);
    return grantId;
  }

  approve(actor: Actor, id: string, comment?: string): { request: AccessRequest; grant?: Grant } {
    return this.decide(actor, id, 'approve', comment);
  }

  deny(actor: Actor, id: string, reason: string): { request: AccessRequest } {
    return this.decide(actor, id, 'deny', reason);
  }

  private decide(actor: Actor, id: string, decision: 'approve' | 'deny', text: string | undefined): { request: AccessRequest; grant?: Grant } {
    const u = actor.user;
    const r0 = this.visibleRequest(actor, id);
    const right = decideRight(this.policy, u, { requesterId: r0.requester_id, resourceId: r0.resource_id });
    if (right === 'self') throw new ApiError('self_approval', 'you cannot decide your own request');
    if (right === 'not_approver') throw forbidden(`you are not an approver of ${r0.resource_id}`);
    const out = this.change((emit, now): { request: AccessRequest; grant?: Grant } | 'late' => {
      const r = this.store.request(id)!;
      if (r.status !== 'pending') throw conflict(`request is already ${r.status}`);
      if (now >= r.pending_until) {
        // decided too late: record the expiry now rather than leaving it to the sweep
        this.expireRequest(emit, now, r);
        return 'late';
      }
      const approvals = this.store.approvals(id);
      if (approvals.some((a) => a.approver_id === u.id)) throw conflict('you have already decided this request');
      // the policy may have changed since the request was made (rule 4 holds at approval too)
      const res = this.policy.resources.get(r.resource_id);
      if (decision === 'approve' && r.kind === 'access' && res && r.duration_s > res.maxDurationSeconds) {
        throw policyViolation([`durationSeconds ${r.duration_s} exceeds the current maxDuration ${res.maxDurationSeconds}s for ${res.id}; ask for a new request`]);
      }
      this.store.addApproval({ request_id: id, approver_id: u.id, decision, comment: text ?? null, at: now });
      const subject = { resourceId: r.resource_id, requestId: id, subjectId: r.requester_id };
      if (decision === 'deny') {
        applied(this.store.decideRequest(id, 'denied', now, null), 'request was decided meanwhile');
        emit({
          audit: { at: now, actorId: u.id, action: 'request.denied', ...subject, ...(r.grant_id && { grantId: r.grant_id }), details: { reason: text ?? null, kind: r.kind, ...client(actor) } },
          request: () => this.requestNow(id, now),
        });
        return { request: this.requestNow(id, now) };
      }
      // the policy in force now decides (rule 2 under reloads): its `required`, and only the
      // approvals of people who still approve this resource; the others are named, not counted
      const tally = tallyApprovals(this.policy, r.resource_id, r.required, approvals.map((a) => ({ approverId: a.approver_id, decision: a.decision })));
      const count = tally.counted.length + 1;
      const notCounted = tally.notCounted.length ? { notCounted: tally.notCounted } : {};
      if (count < tally.required) {
        emit({
          audit: { at: now, actorId: u.id, action: 'request.approval_recorded', ...subject, details: { comment: text ?? null, approvals: count, required: tally.required, ...notCounted, ...client(actor) } },
        });
        return { request: this.requestNow(id, now) };
      }
      const details = { how: 'approvers', comment: text ?? null, approvers: [...tally.counted, u.id], required: tally.required, ...notCounted, ...client(actor) };
      if (r.kind === 'access') {
        const grantId = this.approveAndActivate(emit, now, id, u.id, details);
        return { request: this.requestNow(id, now), grant: this.grantNow(grantId, now) };
      }
      // extension: add the seconds to expiresAt as it is now, capped by maxTotal
      const g = this.store.grant(r.grant_id!)!;
      applied(this.store.decideRequest(id, 'approved', now, null), 'request was decided meanwhile');
      emit({
        audit: { at: now, actorId: u.id, action: 'request.approved', ...subject, grantId: g.id, details: { ...details, kind: 'extension' } },
        request: () => this.requestNow(id, now),
      });
      this.applyExtension(emit, now, g, r.duration_s, u.id, { requestId: id, justification: r.justification });
      return { request: this.requestNow(id, now), grant: this.grantNow(g.id, now) };
    });
    if (out === 'late') throw conflict('request has expired');
    return out;
  }

  cancel(actor: Actor, id: string): { request: AccessRequest } {
    const r0 = this.visibleRequest(actor, id);
    if (!canCancel(actor.user, { requesterId: r0.requester_id, resourceId: r0.resource_id })) throw forbidden('only the requester can cancel a request');
    return this.change((emit, now) => {
      const r = this.store.request(id)!;
      if (r.status !== 'pending' || now >= r.pending_until) throw conflict(`request is already ${r.status === 'pending' ? 'expired' : r.status}`);
      this.cancelRequest(emit, now, r, actor.user.id, 'cancelled by requester', client(actor));
      return { request: this.requestNow(id, now) };
    });
  }

  private cancelRequest(emit: (p: Pending) => void, now: number, r: RequestRow, actorId: string, reason: string, extra: Record<string, unknown> = {}): void {
    applied(this.store.decideRequest(r.id, 'cancelled', now, null), 'request was decided meanwhile');
    emit({
      audit: {
        at: now,
        actorId,
        action: 'request.cancelled',
        resourceId: r.resource_id,
        requestId: r.id,
        ...(r.grant_id && { grantId: r.grant_id }),
        subjectId: r.requester_id,
        details: { reason, kind: r.kind, ...extra },
      },
      request: () => this.requestNow(r.id, now),
    });
  }

  private expireRequest(emit: (p: Pending) => void, now: number, r: RequestRow): void {
    applied(this.store.decideRequest(r.id, 'expired', r.pending_until, null), 'request was decided meanwhile');
    emit({
      audit: {
        at: now,
        actorId: SYSTEM,
        action: 'request.expired',
        resourceId: r.resource_id,
        requestId: r.id,
        ...(r.grant_id && { grantId: r.grant_id }),
        subjectId: r.requester_id,
        details: { pendingUntil: iso(r.pending_until), kind: r.kind },
      },
      request: () => this.requestNow(r.id, now),
    });
  }

  // ---------- grants ----------

  extend(actor: Actor, grantId: string, body: ExtendBody): { status: 200; grant: Grant } | { status: 202; request: AccessRequest } {
    const g0 = this.visibleGrant(actor, grantId);
    if (!isOwner(actor.user, { userId: g0.user_id, resourceId: g0.resource_id })) throw forbidden('only the grant owner can extend it');
    const res = this.resource(g0.resource_id);
    // policy first (422 before 409)
    const decide = (g: GrantRow, now: number) =>
      evaluateExtension(res, { startsAt: g.starts_at, expiresAt: g.expires_at, addedWithoutApprovalSeconds: this.store.secondsAddedWithoutApproval(g) }, body.durationSeconds, now);
    const ev0 = decide(g0, this.clock.now());
    if (!ev0.allowed) throw policyViolation(ev0.violations);
    if (!ev0.atOnce && !canEverBeApproved(this.policy, res, actor.user.id)) {
      throw policyViolation([`an extension of ${body.durationSeconds}s needs approval, but ${res.id} has no approver other than you`]);
    }
    return this.change((emit, now) => {
      const g = this.store.grant(grantId)!;
      if (g.status !== 'active' || now >= g.expires_at) throw conflict('grant is no longer active');
      // decided again on the row as it is in this transaction: extensions at once spend a budget
      const ev = decide(g, now);
      if (!ev.allowed) throw policyViolation(ev.violations);
      if (!ev.atOnce && !canEverBeApproved(this.policy, res, actor.user.id)) {
        throw policyViolation([`an extension of ${body.durationSeconds}s needs approval, but ${res.id} has no approver other than you`]);
      }
      if (ev.atOnce) {
        this.applyExtension(emit, now, g, body.durationSeconds, actor.user.id, { justification: body.justification ?? null, ...client(actor) });
        return { status: 200 as const, grant: this.grantNow(grantId, now) };
      }
      if (this.store.pendingExtension(grantId)) throw conflict('an extension request for this grant is already pending');
      const id = newId('req');
      this.store.insertRequest({
        id,
        kind: 'extension',
        requester_id: actor.user.id,
        resource_id: g.resource_id,
        role: g.role,
        duration_s: body.durationSeconds,
        justification: body.justification ?? '',
        ticket: null,
        status: 'pending',
        grant_id: grantId,
        required: res.approval.required,
        auto_approved: 0,
        break_glass: 0,
        evaluation: JSON.stringify({ reasons: ev.reasons }),
        created_at: now,
        // an extension request is pointless once its grant has ended
        pending_until: Math.min(now + res.pendingTtlSeconds * 1000, g.expires_at),
        decided_at: null,
      });
      emit({
        audit: {
          at: now,
          actorId: actor.user.id,
          action: 'request.created',
          resourceId: g.resource_id,
          requestId: id,
          grantId,
          subjectId: actor.user.id,
          details: {
            kind: 'extension',
            role: g.role,
            durationSeconds: body.durationSeconds,
            justification: body.justification ?? null,
            breakGlass: false,
            reasons: ev.reasons,
            required: res.approval.required,
            autoApproved: false,
            pendingUntil: iso(Math.min(now + res.pendingTtlSeconds * 1000, g.expires_at)),
            ip: actor.ip ?? null,
            userAgent: actor.userAgent ?? null,
          },
        },
        request: () => this.requestNow(id, now),
      });
      return { status: 202 as const, request: this.requestNow(id, now) };
    });
  }

  private applyExtension(emit: (p: Pending) => void, now: number, g: GrantRow, seconds: number, actorId: string, extra: Record<string, unknown>): void {
    // the limit comes from the policy as it is now (it may have changed since the grant began)
    const res = this.policy.resources.get(g.resource_id);
    const limit = res ? g.starts_at + res.extension.maxTotalSeconds * 1000 : g.max_expires_at;
    const expiresAt = Math.max(g.expires_at, Math.min(g.expires_at + seconds * 1000, limit));
    applied(this.store.extendGrant(g.id, expiresAt, Math.max(limit, expiresAt)), 'grant ended meanwhile');
    this.store.setWarned(g.id, warnedMask(expiresAt - now));
    emit({
      audit: {
        at: now,
        actorId,
        action: 'grant.extended',
        resourceId: g.resource_id,
        requestId: (extra.requestId as string | undefined) ?? g.request_id,
        grantId: g.id,
        subjectId: g.user_id,
        details: { ...extra, durationSeconds: seconds, previousExpiresAt: iso(g.expires_at), expiresAt: iso(expiresAt), capped: expiresAt < g.expires_at + seconds * 1000 },
      },
      grant: () => this.grantNow(g.id, now),
    });
    if (res) this.enqueue('extend', g.id, res, now);
  }

  relinquish(actor: Actor, grantId: string): { grant: Grant } {
    const g0 = this.visibleGrant(actor, grantId);
    if (!isOwner(actor.user, { userId: g0.user_id, resourceId: g0.resource_id })) throw forbidden('only the grant owner can relinquish it');
    return this.change((emit, now) => {
      const g = this.store.grant(grantId)!;
      if (g.status !== 'active' || now >= g.expires_at) throw conflict('grant is no longer active');
      this.endGrant(emit, now, g, 'relinquished', actor.user.id, 'relinquished by owner', client(actor));
      return { grant: this.grantNow(grantId, now) };
    });
  }

  revoke(actor: Actor, grantId: string, reason: string): { grant: Grant } {
    const g0 = this.visibleGrant(actor, grantId);
    if (!canRevoke(this.policy, actor.user, { userId: g0.user_id, resourceId: g0.resource_id })) {
      throw forbidden('only an approver of the resource or an admin can revoke a grant');
    }
    return this.change((emit, now) => {
      const g = this.store.grant(grantId)!;
      if (g.status !== 'active' || now >= g.expires_at) throw conflict('grant is no longer active');
      this.endGrant(emit, now, g, 'revoked', actor.user.id, reason, { reason, ...client(actor) });
      return { grant: this.grantNow(grantId, now) };
    });
  }

  /** Ends an active grant, cancels its pending extension and queues deprovisioning. */
  private endGrant(
    emit: (p: Pending) => void,
    now: number,
    g: GrantRow,
    status: 'expired' | 'revoked' | 'relinquished',
    by: string,
    reason: string,
    details: Record<string, unknown>,
  ): void {
    const endedAt = status === 'expired' ? g.expires_at : now;
    const needsDeprovision = (this.policy.resources.get(g.resource_id)?.provider.type ?? 'none') !== 'none';
    applied(this.store.endGrant(g.id, status, endedAt, by, reason, needsDeprovision), 'grant ended meanwhile');
    const ended: GrantRow = { ...g, status, ended_at: endedAt, ended_by: by, end_reason: reason, revoke_pending: needsDeprovision ? 1 : 0 };
    this.grantEnded(emit, now, ended, this.store.pendingExtension(g.id), details);
  }

  /** What follows a grant's end, once its row says so: its pending extension, the audit event, deprovisioning. */
  private grantEnded(emit: (p: Pending) => void, now: number, g: GrantRow, ext: RequestRow | undefined, details: Record<string, unknown>): void {
    const status = g.status;
    const endedAt = g.ended_at!;
    const by = g.ended_by!;
    const res = this.policy.resources.get(g.resource_id);
    if (ext) this.cancelRequest(emit, now, ext, SYSTEM, `grant ${status}`);
    emit({
      audit: {
        at: now,
        actorId: by,
        action: `grant.${status}`,
        resourceId: g.resource_id,
        requestId: g.request_id,
        grantId: g.id,
        subjectId: g.user_id,
        details: { ...details, userId: g.user_id, role: g.role, startsAt: iso(g.starts_at), expiresAt: iso(g.expires_at), endedAt: iso(endedAt), endReason: g.end_reason },
      },
      // the row as this change leaves it (the sweep has it from its UPDATE … RETURNING): no read per event
      grant: () => grantView(g, now),
    });
    if (res) this.enqueue('deprovision', g.id, res, now);
  }

  /**
   * Side effects on target systems go to the outbox inside the transaction (rule 3). The
   * provider config is copied in, so a grant whose resource later leaves the policy can still
   * be deprovisioned. type "none" has no side effects and writes nothing.
   */
  private enqueue(kind: OutboxKind, grantId: string, res: Resource, now: number): void {
    if (res.provider.type === 'none') return;
    this.store.enqueue(kind, grantId, { grantId, provider: res.provider }, now);
  }

  // ---------- outcomes reported by the outbox worker ----------

  /** Provisioning failed: the grant is marked failed (the request stays approved) and cleanup queued. */
  provisionFailed(outboxId: number, grantId: string, provider: ProviderConfig, error: string): void {
    this.change((emit, now) => {
      this.store.outboxDone(outboxId, now);
      const g = this.store.grant(grantId);
      const endReason = `provisioning failed: ${error}`;
      if (!g || !this.store.failGrant(grantId, now, endReason)) return;
      this.store.setRevokePending(grantId, true);
      const ext = this.store.pendingExtension(grantId);
      if (ext) this.cancelRequest(emit, now, ext, SYSTEM, 'grant failed');
      emit({
        audit: { at: now, actorId: SYSTEM, action: 'grant.failed', resourceId: g.resource_id, requestId: g.request_id, grantId, subjectId: g.user_id, details: { error, provider: provider.type, endReason } },
        grant: () => this.grantNow(grantId, now),
      });
      // anything half-done on the target is removed by an idempotent revoke
      this.store.enqueue('deprovision', grantId, { grantId, provider }, now);
    });
  }

  /** The provider set the grant's access up: announced to its owner (and audited) as `grant.provisioned`. */
  provisioned(outboxId: number, grantId: string, provider: ProviderConfig, credentials: boolean): void {
    this.change((emit, now) => {
      this.store.outboxDone(outboxId, now);
      const g = this.store.grant(grantId);
      if (!g || g.status !== 'active') return;
      emit({
        audit: { at: now, actorId: SYSTEM, action: 'grant.provisioned', resourceId: g.resource_id, requestId: g.request_id, grantId, subjectId: g.user_id, details: { provider: provider.type, credentials } },
        grant: () => this.grantNow(grantId, now),
      });
    });
  }

  deprovisioned(outboxId: number, grantId: string, provider: ProviderConfig, attempts: number): void {
    this.change((emit, now) => {
      this.store.outboxDone(outboxId, now);
      const g = this.store.grant(grantId);
      if (!g) return;
      this.store.setRevokePending(grantId, false);
      emit({
        audit: { at: now, actorId: SYSTEM, action: 'grant.deprovisioned', resourceId: g.resource_id, grantId, subjectId: g.user_id, details: { provider: provider.type, attempts: attempts + 1 } },
      });
    });
  }

  /** A revocation failed: it stays queued and is retried; the first failure is announced to admins. */
  revokeFailed(outboxId: number, grantId: string, provider: ProviderConfig, error: string, attempts: number, retryAt: number): void {
    this.change((emit, now) => {
      this.store.outboxRetry(outboxId, retryAt, error);
      const g = this.store.grant(grantId);
      if (!g) return;
      this.store.setRevokePending(grantId, true);
      if (attempts === 0) {
        emit({
          audit: {
            at: now,
            actorId: SYSTEM,
            action: 'grant.revoke_failed',
            resourceId: g.resource_id,
            grantId,
            subjectId: g.user_id,
            details: { error, provider: provider.type, retryAt: iso(retryAt) },
          },
          grant: () => this.grantNow(grantId, now),
        });
      }
    });
  }

  // ---------- time ----------

  /**
   * Expires every due grant and pending request and raises due expiry warnings, in batches of
   * one transaction each. Also the catch-up after downtime (rule 6). Returns how many it ended.
   */
  sweep(): { grants: number; requests: number; warnings: number } {
    let grants = 0;
    let requests = 0;
    let warnings = 0;
    // a forward step of the wall clock ends grants early: say so in their audit events
    const clockJumpMs = this.clock.takeForwardJump?.() ?? 0;
    for (;;) {
      const n = this.change((emit, now) => {
        const deprovisioned = [...this.policy.resources.values()].filter((r) => r.provider.type !== 'none').map((r) => r.id);
        const ended = this.store.expireDue(now, SWEEP_BATCH, deprovisioned);
        const extensions = this.store.pendingExtensions(ended.map((g) => g.id));
        for (const g of ended) {
          const lateMs = now - g.expires_at;
          this.grantEnded(emit, now, g, extensions.get(g.id), {
            lateMs,
            // more than a few seconds late means the server was down or stalled at expiry
            ...(lateMs > 5000 && clockJumpMs === 0 && { recovered: true }),
            ...(clockJumpMs > 0 && { clockJumpMs }),
          });
        }
        return ended.length;
      });
      grants += n;
      if (n < SWEEP_BATCH) break;
      // one commit per batch, also under group commit: 100,000 grants ended after downtime must
      // not become one transaction holding the write lock and the page cache
      this.store.flush();
    }
    for (;;) {
      const n = this.change((emit, now) => {
        const due = this.store.duePendingRequests(now, SWEEP_BATCH);
        for (const r of due) this.expireRequest(emit, now, r);
        return due.length;
      });
      requests += n;
      if (n < SWEEP_BATCH) break;
      this.store.flush();
    }
    warnings = this.change((emit, now) => {
      let count = 0;
      for (const w of WARNINGS) {
        for (const g of this.store.dueWarnings(now, w.seconds * 1000, w.bit)) {
          this.store.setWarned(g.id, g.warned | w.bit);
          const left = Math.max(0, Math.round((g.expires_at - now) / 1000));
          emit({
            audit: {
              at: now,
              actorId: SYSTEM,
              action: 'grant.expiring',
              resourceId: g.resource_id,
              requestId: g.request_id,
              grantId: g.id,
              subjectId: g.user_id,
              details: { threshold: w.seconds, secondsLeft: left, expiresAt: iso(g.expires_at) },
            },
            grant: () => this.grantNow(g.id, now),
          });
          count++;
        }
      }
      return count;
    });
    return { grants, requests, warnings };
  }

  /** The next instant at which sweep() has work, or null. */
  nextDue(): number | null {
    const candidates = [this.store.nextGrantExpiry(), this.store.nextPendingDeadline(), ...WARNINGS.map((w) => this.store.nextWarning(w.seconds * 1000, w.bit))];
    const ts = candidates.filter((t): t is number => t !== null);
    return ts.length ? Math.min(...ts) : null;
  }

  // ---------- policy ----------

  /**
   * Brings the state in line with the policy: grants of users/resources/roles that no longer
   * exist are revoked (reason "policy"), their pending requests cancelled, tokens of removed
   * users revoked. Used at start and on SIGHUP (which also records policy.reloaded).
   */
  reconcile(policy: Policy, opts: { reloaded: boolean; summary?: Record<string, unknown>; onTokenRevoked?: (tokenId: string) => void }): void {
    this.policyRef.current = policy;
    const revokedTokens: string[] = [];
    this.change((emit, now) => {
      const gone = (userId: string, resourceId: string, role: string) =>
        !policy.users.has(userId) || !policy.resources.get(resourceId)?.roles.includes(role);
      // look at the distinct (user, resource, role) combinations, not every active grant
      for (const c of this.store.activeCombos()) {
        if (!gone(c.user_id, c.resource_id, c.role)) continue;
        for (const g of this.store.activeGrantsOf(c.user_id, c.resource_id, c.role)) {
          if (g.expires_at > now) this.endGrant(emit, now, g, 'revoked', SYSTEM, 'policy', { reason: 'policy' });
        }
      }
      for (const r of this.store.allPending()) {
        const res = policy.resources.get(r.resource_id);
        const tooLong = r.kind === 'access' && res !== undefined && r.duration_s > res.maxDurationSeconds;
        if (gone(r.requester_id, r.resource_id, r.role) || tooLong) this.cancelRequest(emit, now, r, SYSTEM, 'policy');
      }
      // keep each grant's extension limit in step with the policy (never below its current end)
      for (const res of policy.resources.values()) this.store.refreshMaxExpires(res.id, res.extension.maxTotalSeconds * 1000);
      for (const t of this.store.tokens()) {
        if (t.revoked_at === null && !policy.users.has(t.user_id)) {
          // revoked meanwhile by someone else: theirs is the event that says so
          if (!this.store.revokeToken(t.id, now)) continue;
          revokedTokens.push(t.id);
          emit({ audit: { at: now, actorId: SYSTEM, action: 'token.revoked', subjectId: t.user_id, details: { tokenId: t.id, userId: t.user_id, reason: 'policy' } } });
        }
      }
      const known = new Map(this.store.users().map((u) => [u.id, u]));
      for (const u of policy.users.values()) this.store.upsertUser(u);
      for (const u of known.values()) if (u.active && !policy.users.has(u.id)) this.store.deactivateUser(u.id);
      if (opts.reloaded) {
        emit({ audit: { at: now, actorId: SYSTEM, action: 'policy.reloaded', details: opts.summary ?? {} } });
      }
    });
    for (const t of revokedTokens) opts.onTokenRevoked?.(t);
  }
}

/**
 * Every state change is a conditional update (on the state its decision read). One that did not
 * apply means another writer changed the row first: the whole change rolls back as a 409, never
 * a silent half-change.
 */
function applied(ok: boolean, what: string): void {
  if (!ok) throw conflict(what);
}

/** Where a person's action came from, for the audit trail. */
const client = (a: Actor) => ({ ip: a.ip ?? null, userAgent: a.userAgent ?? null });

/** Warning bits already "spent" for a grant with `remainingMs` left: a grant shorter than a threshold gets no warning for it. */
export function warnedMask(remainingMs: number): number {
  return WARNINGS.reduce((m, w) => (remainingMs < w.seconds * 1000 ? m | w.bit : m), 0);
}


const encodeCursor = (seq: number) => Buffer.from(`g:${seq}`).toString('base64url');
function decodeCursor(c: string): number {
  const m = /^g:(\d{1,15})$/.exec(Buffer.from(c, 'base64url').toString());
  if (!m) throw new ApiError('invalid_request', 'cursor is not valid', [{ path: 'cursor', message: 'not a cursor returned by this API' }]);
  return Number(m[1]);
}
