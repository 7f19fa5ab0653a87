// The access lifecycle: requests, decisions, grants, extensions, endings, expiry. Every state
// change runs in one store transaction together with its audit events and outbox rows (rule 3);
// listeners (live events, scheduler, outbox worker) hear about it only after it has committed.
import { ApiError, conflict, forbidden, notFound, policyViolation } from '../errors.js';
import type { Clock } from '../domain/clock.js';
import { iso } from '../domain/clock.js';
import { newId } from '../domain/ids.js';
import { dryRunReasons, evaluateExtension, evaluateRequest } from '../domain/evaluate.js';
import { canEverBeApproved } from '../domain/policy.js';
import { allGrantsScope, approvedResources, approves, canCancel, tallyApprovals, canRevoke, canViewGrant, canViewRequest, decideRight, isOwner } from '../domain/rights.js';
import type { Policy, PolicyUser, ProviderConfig, Resource } from '../domain/types.js';
import type { AuditInput, GrantRecord, RequestRecord, Store, Tx } from '../store/types.js';
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

/** What a committed change wrote besides its events: whether it queued outbox work. */
export interface CommitInfo {
  outbox: boolean;
}

export type CommitListener = (items: Committed[], info: CommitInfo) => void;

/** One state change in progress: its transaction, its time, and how it records events and outbox work. */
export interface Change {
  readonly tx: Tx;
  readonly now: number;
  emit(p: Pending): void;
  enqueue(kind: string, grantId: string | null, payload: unknown): Promise<void>;
}
export type AppendHook = (c: Change, events: AuditEvent[]) => Promise<void>;

const SYSTEM = 'system';
export type OutboxKind = 'provision' | 'extend' | 'deprovision';
export const WARNINGS = [
  { bit: 1, seconds: 300 },
  { bit: 2, seconds: 60 },
] as const;
const SWEEP_BATCH = 1000;

export interface Pending {
  audit: AuditInput;
  request?: () => Promise<AccessRequest>;
  grant?: () => Promise<Grant>;
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
   * Runs a state change in one transaction. `fn` records audit events through `c.emit`; they are
   * appended inside the same transaction, and listeners hear about them once it has committed.
   */
  private async change<T>(fn: (c: Change) => Promise<T>, now = this.clock.now()): Promise<T> {
    let committed: Committed[] = [];
    let outbox = false;
    const result = await this.store.transaction(async (tx) => {
      const pending: Pending[] = [];
      outbox = false;
      const c: Change = {
        tx,
        now,
        emit: (p) => void pending.push(p),
        enqueue: async (kind, grantId, payload) => {
          outbox = true;
          await tx.outbox.enqueue(kind, grantId, payload, now);
        },
      };
      const r = await fn(c);
      // stream events carry their payload into the log, with the request and grant as they are
      // at the end of this transaction: exactly the state that commits with the event
      const inputs: AuditInput[] = [];
      for (const { audit, request, grant } of pending) {
        if (!isSseType(audit.action)) inputs.push(audit);
        else inputs.push({ ...audit, live: liveEventJson({ ...audit, action: audit.action }, await request?.(), await grant?.()) });
      }
      const events = await tx.audit.append(inputs);
      for (const h of this.appendHooks) await h(c, events);
      committed = events.map((event, i) => ({ event, subjectId: pending[i].audit.subjectId }));
      return r;
    });
    if (committed.length || outbox) for (const l of this.listeners) l(committed, { outbox });
    return result;
  }

  private async requestNow(tx: Tx, id: string, now: number): Promise<AccessRequest> {
    const r = (await tx.requests.get(id))!;
    return requestView(r, await tx.approvals.of(id), now);
  }

  private async grantNow(tx: Tx, id: string, now: number): Promise<Grant> {
    return this.grantWithBudget(tx, (await tx.grants.get(id))!, now);
  }

  /** The grant's view with what it has added without approval so far (active grants only). */
  private async grantWithBudget(tx: Tx, g: GrantRecord, now: number): Promise<Grant> {
    return grantView(g, now, g.status === 'active' ? await this.secondsAddedWithoutApproval(tx, g) : 0);
  }

  // ---------- visibility (the rights themselves are decided in domain/rights.ts) ----------

  private async visibleRequest(tx: Tx, actor: Actor, id: string): Promise<RequestRecord> {
    const r = await tx.requests.get(id);
    if (!r || !canViewRequest(this.policy, actor.user, r)) throw notFound('request', id);
    return r;
  }

  private async visibleGrant(tx: Tx, actor: Actor, id: string): Promise<GrantRecord> {
    const g = await tx.grants.get(id);
    if (!g || !canViewGrant(this.policy, actor.user, g)) throw notFound('grant', id);
    return g;
  }

  private resource(id: string): Resource {
    const r = this.policy.resources.get(id);
    if (!r) throw notFound('resource', id);
    return r;
  }

  // ---------- reads ----------

  getRequest(actor: Actor, id: string): Promise<{ request: AccessRequest; requesterHistory?: AccessRequest[] }> {
    return this.store.read(async (tx) => {
      const now = this.clock.now();
      const r = await this.visibleRequest(tx, actor, id);
      const request = requestView(r, await tx.approvals.of(id), now);
      if (r.requesterId !== actor.user.id && approves(this.policy, actor.user, r.resourceId)) {
        // only requests the approver could open on their own: not those for resources they do not approve
        const rows = (await tx.requests.byRequester(r.requesterId, 200)).filter((h) => h.id !== id && canViewRequest(this.policy, actor.user, h)).slice(0, 10);
        const history: AccessRequest[] = [];
        for (const h of rows) history.push(requestView(h, await tx.approvals.of(h.id), now));
        return { request, requesterHistory: history };
      }
      return { request };
    });
  }

  listRequests(actor: Actor, scope: 'mine' | 'reviewable', status?: AccessRequest['status']): Promise<AccessRequest[]> {
    return this.store.read(async (tx) => {
      const now = this.clock.now();
      const u = actor.user;
      const out: AccessRequest[] = [];
      if (scope === 'mine') {
        for (const r of await tx.requests.byRequester(u.id, 200, status)) out.push(requestView(r, await tx.approvals.of(r.id), now));
      } else {
        const mine = approvedResources(this.policy, u);
        const rows = mine.length ? await tx.requests.forResources(mine, status ?? 'pending', 500) : [];
        for (const r of rows) {
          if (r.requesterId === u.id) continue;
          const approvals = await tx.approvals.of(r.id);
          // pending ones the caller already approved are no longer theirs to decide
          if (r.status === 'pending' && approvals.some((a) => a.approverId === u.id)) continue;
          out.push(requestView(r, approvals, now));
        }
      }
      // a pending row past its deadline reads as expired (rule-1 style); keep the filter honest
      return status ? out.filter((r) => r.status === status) : out;
    });
  }

  getGrant(actor: Actor, id: string): Promise<Grant> {
    return this.store.read(async (tx) => this.grantWithBudget(tx, await this.visibleGrant(tx, actor, id), this.clock.now()));
  }

  listGrants(
    actor: Actor,
    q: { scope: 'mine' | 'all'; status?: Grant['status']; limit: number; cursor?: string },
  ): Promise<{ grants: Grant[]; nextCursor: string | null }> {
    const u = actor.user;
    const beforeSeq = q.cursor !== undefined ? decodeCursor(q.cursor) : undefined;
    let filter: { userId?: string; resourceIds?: string[] };
    if (q.scope === 'mine') filter = { userId: u.id };
    else {
      const scope = allGrantsScope(this.policy, u);
      if (!scope) throw forbidden('scope=all needs the admin or auditor role, or approver rights on a resource');
      filter = scope;
    }
    return this.store.read(async (tx) => {
      const now = this.clock.now();
      // status is filtered on the presented view (rule 1): a lapsed "active" row is expired
      const want = q.status;
      const out: Grant[] = [];
      let cursorSeq = beforeSeq;
      let lastSeq: number | undefined;
      let more = false;
      for (;;) {
        const dbStatus = want === 'active' ? 'active' : want === 'expired' ? undefined : want;
        const rows = filter.resourceIds?.length === 0 ? [] : await tx.grants.list({ ...filter, status: dbStatus, beforeSeq: cursorSeq, limit: q.limit + 1 });
        for (const row of rows) {
          const g = await this.grantWithBudget(tx, row, now);
          cursorSeq = row.seq;
          if (want && g.status !== want) continue;
          if (out.length === q.limit) {
            more = true;
            break;
          }
          out.push(g);
          lastSeq = row.seq;
        }
        if (more || rows.length <= q.limit) break;
      }
      return { grants: out, nextCursor: more && lastSeq !== undefined ? encodeCursor(lastSeq) : null };
    });
  }

  /** For target systems: is this access allowed right now? Compares with the clock at call time (rule 1). */
  async check(userId: string, resourceId: string, role: string): Promise<{ allowed: boolean; grantId?: string; expiresAt?: string }> {
    const g = await this.store.read((tx) => tx.grants.check(userId, resourceId, role, this.clock.now()));
    return g ? { allowed: true, grantId: g.id, expiresAt: iso(g.expiresAt) } : { allowed: false };
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

  async createRequest(actor: Actor, body: CreateRequestBody): Promise<{ request: AccessRequest; grant?: Grant }> {
    const res = this.resource(body.resourceId);
    const ev = evaluateRequest(this.policy, body, actor.user, this.clock.now());
    if (!ev.allowed) throw policyViolation(ev.violations);
    return this.change(async (c) => {
      const { tx, now } = c;
      const id = newId('req');
      const approvedAtOnce = ev.autoApproved || ev.breakGlass;
      await tx.requests.insert({
        id,
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
      });
      c.emit({
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
        request: () => this.requestNow(tx, id, now),
      });
      if (!approvedAtOnce) return { request: await this.requestNow(tx, id, now) };
      const grantId = await this.approveAndActivate(c, id, ev.breakGlass ? actor.user.id : SYSTEM, {
        how: ev.breakGlass ? 'break-glass' : 'auto',
        ...(ev.autoApproveRule !== undefined && { autoApproveRule: ev.autoApproveRule }),
        breakGlass: ev.breakGlass,
      });
      return { request: await this.requestNow(tx, id, now), grant: await this.grantNow(tx, grantId, now) };
    });
  }

  /** Marks an access request approved and starts its grant; the clock starts now. */
  private async approveAndActivate(c: Change, requestId: string, actorId: string, details: Record<string, unknown>): Promise<string> {
    const { tx, now } = c;
    const r = (await tx.requests.get(requestId))!;
    const res = this.resource(r.resourceId);
    const grantId = newId('grt');
    applied(await tx.requests.decide(requestId, 'approved', now, grantId, 'pending'), 'request was decided meanwhile');
    c.emit({
      audit: { at: now, actorId, action: 'request.approved', resourceId: r.resourceId, requestId, grantId, subjectId: r.requesterId, details },
      request: () => this.requestNow(tx, requestId, now),
    });
    const expiresAt = now + r.durationS * 1000;
    await tx.grants.insert({
      id: grantId,
      requestId,
      userId: r.requesterId,
      resourceId: r.resourceId,
      role: r.role,
      startsAt: now,
      expiresAt,
      maxExpiresAt: Math.max(expiresAt, now + res.extension.maxTotalSeconds * 1000),
    });
    await tx.grants.setWarned(grantId, warnedMask(r.durationS * 1000));
    c.emit({
      audit: {
        at: now,
        actorId,
        action: 'grant.activated',
        resourceId: r.resourceId,
        requestId,
        grantId,
        subjectId: r.requesterId,
        details: { userId: r.requesterId, role: r.role, startsAt: iso(now), expiresAt: iso(expiresAt), breakGlass: r.breakGlass },
      },
      grant: () => this.grantNow(tx, grantId, now),
    });
    await this.enqueue(c, 'provision', grantId, res);
    return grantId;
  }

  approve(actor: Actor, id: string, comment?: string): Promise<{ request: AccessRequest; grant?: Grant }> {
    return this.decide(actor, id, 'approve', comment);
  }

  deny(actor: Actor, id: string, reason: string): Promise<{ request: AccessRequest }> {
    return this.decide(actor, id, 'deny', reason);
  }

  private async decide(actor: Actor, id: string, decision: 'approve' | 'deny', text: string | undefined): Promise<{ request: AccessRequest; grant?: Grant }> {
    const u = actor.user;
    const out = await this.change(async (c): Promise<{ request: AccessRequest; grant?: Grant } | 'late'> => {
      const { tx, now } = c;
      const r = await this.visibleRequest(tx, actor, id);
      const right = decideRight(this.policy, u, r);
      if (right === 'self') throw new ApiError('self_approval', 'you cannot decide your own request');
      if (right === 'not_approver') throw forbidden(`you are not an approver of ${r.resourceId}`);
      if (r.status !== 'pending') throw conflict(`request is already ${r.status}`);
      if (now >= r.pendingUntil) {
        // decided too late: record the expiry now rather than leaving it to the sweep
        await this.expireRequest(c, r);
        return 'late';
      }
      const approvals = await tx.approvals.of(id);
      if (approvals.some((a) => a.approverId === u.id)) throw conflict('you have already decided this request');
      // the policy may have changed since the request was made (rule 4 holds at approval too)
      const res = this.policy.resources.get(r.resourceId);
      if (decision === 'approve' && r.kind === 'access' && res && r.durationS > res.maxDurationSeconds) {
        throw policyViolation([`durationSeconds ${r.durationS} exceeds the current maxDuration ${res.maxDurationSeconds}s for ${res.id}; ask for a new request`]);
      }
      applied(await tx.approvals.add({ requestId: id, approverId: u.id, decision, comment: text ?? null, at: now }), 'you have already decided this request');
      const subject = { resourceId: r.resourceId, requestId: id, subjectId: r.requesterId };
      if (decision === 'deny') {
        applied(await tx.requests.decide(id, 'denied', now, null, 'pending'), 'request was decided meanwhile');
        c.emit({
          audit: { at: now, actorId: u.id, action: 'request.denied', ...subject, ...(r.grantId && { grantId: r.grantId }), details: { reason: text ?? null, kind: r.kind, ...client(actor) } },
          request: () => this.requestNow(tx, id, now),
        });
        return { request: await this.requestNow(tx, id, now) };
      }
      // the policy in force now decides (rule 2 under reloads): its `required`, and only the
      // approvals of people who still approve this resource; the others are named, not counted
      const tally = tallyApprovals(this.policy, r.resourceId, r.required, approvals);
      const count = tally.counted.length + 1;
      const notCounted = tally.notCounted.length ? { notCounted: tally.notCounted } : {};
      if (count < tally.required) {
        c.emit({
          audit: { at: now, actorId: u.id, action: 'request.approval_recorded', ...subject, details: { comment: text ?? null, approvals: count, required: tally.required, ...notCounted, ...client(actor) } },
        });
        return { request: await this.requestNow(tx, id, now) };
      }
      const details = { how: 'approvers', comment: text ?? null, approvers: [...tally.counted, u.id], required: tally.required, ...notCounted, ...client(actor) };
      if (r.kind === 'access') {
        const grantId = await this.approveAndActivate(c, id, u.id, details);
        return { request: await this.requestNow(tx, id, now), grant: await this.grantNow(tx, grantId, now) };
      }
      // extension: add the seconds to expiresAt as it is now, capped by maxTotal
      const g = (await tx.grants.get(r.grantId!))!;
      applied(await tx.requests.decide(id, 'approved', now, null, 'pending'), 'request was decided meanwhile');
      c.emit({
        audit: { at: now, actorId: u.id, action: 'request.approved', ...subject, grantId: g.id, details: { ...details, kind: 'extension' } },
        request: () => this.requestNow(tx, id, now),
      });
      await this.applyExtension(c, g, r.durationS, u.id, { requestId: id, justification: r.justification });
      return { request: await this.requestNow(tx, id, now), grant: await this.grantNow(tx, g.id, now) };
    });
    if (out === 'late') throw conflict('request has expired');
    return out;
  }

  cancel(actor: Actor, id: string): Promise<{ request: AccessRequest }> {
    return this.change(async (c) => {
      const { tx, now } = c;
      const r = await this.visibleRequest(tx, actor, id);
      if (!canCancel(actor.user, r)) throw forbidden('only the requester can cancel a request');
      if (r.status !== 'pending' || now >= r.pendingUntil) throw conflict(`request is already ${r.status === 'pending' ? 'expired' : r.status}`);
      await this.cancelRequest(c, r, actor.user.id, 'cancelled by requester', client(actor));
      return { request: await this.requestNow(tx, id, now) };
    });
  }

  private async cancelRequest(c: Change, r: RequestRecord, actorId: string, reason: string, extra: Record<string, unknown> = {}): Promise<void> {
    const { tx, now } = c;
    applied(await tx.requests.decide(r.id, 'cancelled', now, null, 'pending'), 'request was decided meanwhile');
    c.emit({
      audit: {
        at: now,
        actorId,
        action: 'request.cancelled',
        resourceId: r.resourceId,
        requestId: r.id,
        ...(r.grantId && { grantId: r.grantId }),
        subjectId: r.requesterId,
        details: { reason, kind: r.kind, ...extra },
      },
      request: () => this.requestNow(tx, r.id, now),
    });
  }

  private async expireRequest(c: Change, r: RequestRecord): Promise<void> {
    const { tx, now } = c;
    applied(await tx.requests.decide(r.id, 'expired', r.pendingUntil, null, 'pending'), 'request was decided meanwhile');
    c.emit({
      audit: {
        at: now,
        actorId: SYSTEM,
        action: 'request.expired',
        resourceId: r.resourceId,
        requestId: r.id,
        ...(r.grantId && { grantId: r.grantId }),
        subjectId: r.requesterId,
        details: { pendingUntil: iso(r.pendingUntil), kind: r.kind },
      },
      request: () => this.requestNow(tx, r.id, now),
    });
  }

  // ---------- grants ----------

  /**
   * Seconds added to the grant without an approver: everything past its first end that no
   * approved extension request accounts for (at-once extensions create no request).
   */
  private async secondsAddedWithoutApproval(tx: Tx, g: GrantRecord): Promise<number> {
    const first = await tx.requests.get(g.requestId);
    if (!first) return 0;
    const approved = await tx.requests.approvedExtensionSeconds(g.userId, g.id);
    return Math.max(0, Math.round((g.expiresAt - g.startsAt) / 1000) - first.durationS - approved);
  }

  extend(actor: Actor, grantId: string, body: ExtendBody): Promise<{ status: 200; grant: Grant } | { status: 202; request: AccessRequest }> {
    return this.change(async (c) => {
      const { tx, now } = c;
      const g = await this.visibleGrant(tx, actor, grantId);
      if (!isOwner(actor.user, g)) throw forbidden('only the grant owner can extend it');
      const res = this.resource(g.resourceId);
      // policy first (422 before 409)
      const ev = evaluateExtension(
        res,
        { startsAt: g.startsAt, expiresAt: g.expiresAt, addedWithoutApprovalSeconds: await this.secondsAddedWithoutApproval(tx, g) },
        body.durationSeconds,
        now,
      );
      if (!ev.allowed) throw policyViolation(ev.violations);
      if (!ev.atOnce && !canEverBeApproved(this.policy, res, actor.user.id)) {
        throw policyViolation([`an extension of ${body.durationSeconds}s needs approval, but ${res.id} has no approver other than you`]);
      }
      if (g.status !== 'active' || now >= g.expiresAt) throw conflict('grant is no longer active');
      if (ev.atOnce) {
        await this.applyExtension(c, g, body.durationSeconds, actor.user.id, { justification: body.justification ?? null, ...client(actor) });
        return { status: 200 as const, grant: await this.grantNow(tx, grantId, now) };
      }
      if (await tx.requests.pendingExtension(grantId)) throw conflict('an extension request for this grant is already pending');
      const id = newId('req');
      // an extension request is pointless once its grant has ended
      const pendingUntil = Math.min(now + res.pendingTtlSeconds * 1000, g.expiresAt);
      await tx.requests.insert({
        id,
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
        pendingUntil,
        decidedAt: null,
      });
      c.emit({
        audit: {
          at: now,
          actorId: actor.user.id,
          action: 'request.created',
          resourceId: g.resourceId,
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
            pendingUntil: iso(pendingUntil),
            ip: actor.ip ?? null,
            userAgent: actor.userAgent ?? null,
          },
        },
        request: () => this.requestNow(tx, id, now),
      });
      return { status: 202 as const, request: await this.requestNow(tx, id, now) };
    });
  }

  private async applyExtension(c: Change, g: GrantRecord, seconds: number, actorId: string, extra: Record<string, unknown>): Promise<void> {
    const { tx, now } = c;
    // the limit comes from the policy as it is now (it may have changed since the grant began)
    const res = this.policy.resources.get(g.resourceId);
    const limit = res ? g.startsAt + res.extension.maxTotalSeconds * 1000 : g.maxExpiresAt;
    const expiresAt = Math.max(g.expiresAt, Math.min(g.expiresAt + seconds * 1000, limit));
    // conditional on the end this decision read: two racing extensions never pass maxTotal
    applied(await tx.grants.extend(g.id, g.expiresAt, expiresAt, Math.max(limit, expiresAt)), 'grant ended or was extended meanwhile');
    await tx.grants.setWarned(g.id, warnedMask(expiresAt - now));
    c.emit({
      audit: {
        at: now,
        actorId,
        action: 'grant.extended',
        resourceId: g.resourceId,
        requestId: (extra.requestId as string | undefined) ?? g.requestId,
        grantId: g.id,
        subjectId: g.userId,
        details: { ...extra, durationSeconds: seconds, previousExpiresAt: iso(g.expiresAt), expiresAt: iso(expiresAt), capped: expiresAt < g.expiresAt + seconds * 1000 },
      },
      grant: () => this.grantNow(tx, g.id, now),
    });
    if (res) await this.enqueue(c, 'extend', g.id, res);
  }

  relinquish(actor: Actor, grantId: string): Promise<{ grant: Grant }> {
    return this.change(async (c) => {
      const { tx, now } = c;
      const g = await this.visibleGrant(tx, actor, grantId);
      if (!isOwner(actor.user, g)) throw forbidden('only the grant owner can relinquish it');
      if (g.status !== 'active' || now >= g.expiresAt) throw conflict('grant is no longer active');
      await this.endGrant(c, g, 'relinquished', actor.user.id, 'relinquished by owner', client(actor));
      return { grant: await this.grantNow(tx, grantId, now) };
    });
  }

  revoke(actor: Actor, grantId: string, reason: string): Promise<{ grant: Grant }> {
    return this.change(async (c) => {
      const { tx, now } = c;
      const g = await this.visibleGrant(tx, actor, grantId);
      if (!canRevoke(this.policy, actor.user, g)) throw forbidden('only an approver of the resource or an admin can revoke a grant');
      if (g.status !== 'active' || now >= g.expiresAt) throw conflict('grant is no longer active');
      await this.endGrant(c, g, 'revoked', actor.user.id, reason, { reason, ...client(actor) });
      return { grant: await this.grantNow(tx, grantId, now) };
    });
  }

  /** Ends an active grant, cancels its pending extension and queues deprovisioning. */
  private async endGrant(
    c: Change,
    g: GrantRecord,
    status: 'expired' | 'revoked' | 'relinquished',
    by: string,
    reason: string,
    details: Record<string, unknown>,
  ): Promise<void> {
    const endedAt = status === 'expired' ? g.expiresAt : c.now;
    const needsDeprovision = (this.policy.resources.get(g.resourceId)?.provider.type ?? 'none') !== 'none';
    applied(await c.tx.grants.end(g.id, status, endedAt, by, reason, needsDeprovision), 'grant ended meanwhile');
    const ended: GrantRecord = { ...g, status, endedAt, endedBy: by, endReason: reason, revokePending: needsDeprovision };
    await this.grantEnded(c, ended, await c.tx.requests.pendingExtension(g.id), details);
  }

  /** What follows a grant's end, once its row says so: its pending extension, the audit event, deprovisioning. */
  private async grantEnded(c: Change, g: GrantRecord, ext: RequestRecord | undefined, details: Record<string, unknown>): Promise<void> {
    const { now } = c;
    const status = g.status;
    const endedAt = g.endedAt!;
    const by = g.endedBy!;
    const res = this.policy.resources.get(g.resourceId);
    if (ext) await this.cancelRequest(c, ext, SYSTEM, `grant ${status}`);
    c.emit({
      audit: {
        at: now,
        actorId: by,
        action: `grant.${status}`,
        resourceId: g.resourceId,
        requestId: g.requestId,
        grantId: g.id,
        subjectId: g.userId,
        details: { ...details, userId: g.userId, role: g.role, startsAt: iso(g.startsAt), expiresAt: iso(g.expiresAt), endedAt: iso(endedAt), endReason: g.endReason },
      },
      // the record as this change leaves it (the sweep has it from its claim): no read per event
      grant: () => Promise.resolve(grantView(g, now)),
    });
    if (res) await this.enqueue(c, 'deprovision', g.id, res);
  }

  /**
   * Side effects on target systems go to the outbox inside the transaction (rule 3). The
   * provider config is copied in, so a grant whose resource later leaves the policy can still
   * be deprovisioned. type "none" has no side effects and writes nothing.
   */
  private async enqueue(c: Change, kind: OutboxKind, grantId: string, res: Resource): Promise<void> {
    if (res.provider.type === 'none') return;
    await c.enqueue(kind, grantId, { grantId, provider: res.provider });
  }

  // ---------- outcomes reported by the outbox worker ----------

  /** Provisioning failed: the grant is marked failed (the request stays approved) and cleanup queued. */
  async provisionFailed(outboxId: number, grantId: string, provider: ProviderConfig, error: string): Promise<void> {
    await this.change(async (c) => {
      const { tx, now } = c;
      await tx.outbox.done(outboxId, now);
      const g = await tx.grants.get(grantId);
      const endReason = `provisioning failed: ${error}`;
      if (!g || !(await tx.grants.end(grantId, 'failed', now, SYSTEM, endReason, true))) return;
      const ext = await tx.requests.pendingExtension(grantId);
      if (ext) await this.cancelRequest(c, ext, SYSTEM, 'grant failed');
      c.emit({
        audit: { at: now, actorId: SYSTEM, action: 'grant.failed', resourceId: g.resourceId, requestId: g.requestId, grantId, subjectId: g.userId, details: { error, provider: provider.type, endReason } },
        grant: () => this.grantNow(tx, grantId, now),
      });
      // anything half-done on the target is removed by an idempotent revoke
      await c.enqueue('deprovision', grantId, { grantId, provider });
    });
  }

  /** The provider set the grant's access up: announced to its owner (and audited) as `grant.provisioned`. */
  async provisioned(outboxId: number, grantId: string, provider: ProviderConfig, credentials: boolean): Promise<void> {
    await this.change(async (c) => {
      const { tx, now } = c;
      await tx.outbox.done(outboxId, now);
      const g = await tx.grants.get(grantId);
      if (!g || g.status !== 'active') return;
      c.emit({
        audit: { at: now, actorId: SYSTEM, action: 'grant.provisioned', resourceId: g.resourceId, requestId: g.requestId, grantId, subjectId: g.userId, details: { provider: provider.type, credentials } },
        grant: () => this.grantNow(tx, grantId, now),
      });
    });
  }

  async deprovisioned(outboxId: number, grantId: string, provider: ProviderConfig, attempts: number): Promise<void> {
    await this.change(async (c) => {
      const { tx, now } = c;
      await tx.outbox.done(outboxId, now);
      const g = await tx.grants.get(grantId);
      if (!g) return;
      await tx.grants.setRevokePending(grantId, false);
      c.emit({
        audit: { at: now, actorId: SYSTEM, action: 'grant.deprovisioned', resourceId: g.resourceId, grantId, subjectId: g.userId, details: { provider: provider.type, attempts: attempts + 1 } },
      });
    });
  }

  /** A revocation failed: it stays queued and is retried; the first failure is announced to admins. */
  async revokeFailed(outboxId: number, grantId: string, provider: ProviderConfig, error: string, attempts: number, retryAt: number): Promise<void> {
    await this.change(async (c) => {
      const { tx, now } = c;
      await tx.outbox.retry(outboxId, retryAt, error);
      const g = await tx.grants.get(grantId);
      if (!g) return;
      await tx.grants.setRevokePending(grantId, true);
      if (attempts === 0) {
        c.emit({
          audit: {
            at: now,
            actorId: SYSTEM,
            action: 'grant.revoke_failed',
            resourceId: g.resourceId,
            grantId,
            subjectId: g.userId,
            details: { error, provider: provider.type, retryAt: iso(retryAt) },
          },
          grant: () => this.grantNow(tx, grantId, now),
        });
      }
    });
  }

  // ---------- time ----------

  /**
   * Expires every due grant and pending request and raises due expiry warnings, in batches of
   * one transaction each. Also the catch-up after downtime (rule 6). Returns how many it ended.
   */
  async sweep(): Promise<{ grants: number; requests: number; warnings: number }> {
    // one instant for the whole sweep: what was due when it began
    const at = this.clock.now();
    let grants = 0;
    let requests = 0;
    // a forward step of the wall clock ends grants early: say so in their audit events
    const clockJumpMs = this.clock.takeForwardJump?.() ?? 0;
    // one transaction per batch: 100,000 grants ended after downtime must not become one
    // transaction holding the write lock
    for (;;) {
      const n = await this.change(async (c) => {
        const { tx, now } = c;
        const deprovisioned = [...this.policy.resources.values()].filter((r) => r.provider.type !== 'none').map((r) => r.id);
        const ended = await tx.grants.expireDue(now, SWEEP_BATCH, deprovisioned);
        const extensions = ended.length ? await tx.requests.pendingExtensions(ended.map((g) => g.id)) : new Map<string, RequestRecord>();
        for (const g of ended) {
          const lateMs = now - g.expiresAt;
          await this.grantEnded(c, g, extensions.get(g.id), {
            lateMs,
            // more than a few seconds late means the server was down or stalled at expiry
            ...(lateMs > 5000 && clockJumpMs === 0 && { recovered: true }),
            ...(clockJumpMs > 0 && { clockJumpMs }),
          });
        }
        return ended.length;
      }, at);
      grants += n;
      if (n < SWEEP_BATCH) break;
    }
    for (;;) {
      const n = await this.change(async (c) => {
        const due = await c.tx.requests.duePending(c.now, SWEEP_BATCH);
        for (const r of due) await this.expireRequest(c, r);
        return due.length;
      }, at);
      requests += n;
      if (n < SWEEP_BATCH) break;
    }
    const warnings = await this.change(async (c) => {
      const { tx, now } = c;
      let count = 0;
      for (const w of WARNINGS) {
        for (const g of await tx.grants.dueWarnings(now, w.seconds * 1000, w.bit)) {
          await tx.grants.setWarned(g.id, g.warned | w.bit);
          const left = Math.max(0, Math.round((g.expiresAt - now) / 1000));
          c.emit({
            audit: {
              at: now,
              actorId: SYSTEM,
              action: 'grant.expiring',
              resourceId: g.resourceId,
              requestId: g.requestId,
              grantId: g.id,
              subjectId: g.userId,
              details: { threshold: w.seconds, secondsLeft: left, expiresAt: iso(g.expiresAt) },
            },
            grant: () => this.grantNow(tx, g.id, now),
          });
          count++;
        }
      }
      return count;
    }, at);
    return { grants, requests, warnings };
  }

  /** The next instant at which sweep() has work, or null. */
  nextDue(): Promise<number | null> {
    return this.store.read(async (tx) => {
      const candidates = [await tx.grants.nextExpiry(), await tx.requests.nextPendingDeadline()];
      for (const w of WARNINGS) candidates.push(await tx.grants.nextWarning(w.seconds * 1000, w.bit));
      const ts = candidates.filter((t): t is number => t !== null);
      return ts.length ? Math.min(...ts) : null;
    });
  }

  // ---------- policy ----------

  /**
   * Brings the state in line with the policy: grants of users/resources/roles that no longer
   * exist are revoked (reason "policy"), their pending requests cancelled, tokens of removed
   * users revoked. Used at start and on SIGHUP (which also records policy.reloaded).
   */
  async reconcile(policy: Policy, opts: { reloaded: boolean; summary?: Record<string, unknown>; onTokenRevoked?: (tokenId: string) => void }): Promise<void> {
    this.policyRef.current = policy;
    const revokedTokens: string[] = [];
    await this.change(async (c) => {
      const { tx, now } = c;
      revokedTokens.length = 0;
      const gone = (userId: string, resourceId: string, role: string) =>
        !policy.users.has(userId) || !policy.resources.get(resourceId)?.roles.includes(role);
      // look at the distinct (user, resource, role) combinations, not every active grant
      for (const k of await tx.grants.activeCombos()) {
        if (!gone(k.userId, k.resourceId, k.role)) continue;
        for (const g of await tx.grants.activeOf(k.userId, k.resourceId, k.role)) {
          if (g.expiresAt > now) await this.endGrant(c, g, 'revoked', SYSTEM, 'policy', { reason: 'policy' });
        }
      }
      for (const r of await tx.requests.allPending()) {
        const res = policy.resources.get(r.resourceId);
        const tooLong = r.kind === 'access' && res !== undefined && r.durationS > res.maxDurationSeconds;
        if (gone(r.requesterId, r.resourceId, r.role) || tooLong) await this.cancelRequest(c, r, SYSTEM, 'policy');
      }
      // keep each grant's extension limit in step with the policy (never below its current end)
      for (const res of policy.resources.values()) await tx.grants.refreshMaxExpires(res.id, res.extension.maxTotalSeconds * 1000);
      for (const t of await tx.tokens.list()) {
        if (t.revokedAt === null && !policy.users.has(t.userId)) {
          // revoked meanwhile by someone else: theirs is the event that says so
          if (!(await tx.tokens.revoke(t.id, now))) continue;
          revokedTokens.push(t.id);
          c.emit({ audit: { at: now, actorId: SYSTEM, action: 'token.revoked', subjectId: t.userId, details: { tokenId: t.id, userId: t.userId, reason: 'policy' } } });
        }
      }
      const known = new Map((await tx.users.list()).map((u) => [u.id, u]));
      for (const u of policy.users.values()) await tx.users.upsert(u);
      for (const u of known.values()) if (u.active && !policy.users.has(u.id)) await tx.users.deactivate(u.id);
      if (opts.reloaded) {
        c.emit({ audit: { at: now, actorId: SYSTEM, action: 'policy.reloaded', details: opts.summary ?? {} } });
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
