// What callers may read: requests and grants through the visibility rights of domain/rights.ts,
// and the access check for target systems. Reads see committed data only (Store.read).
import { ApiError, forbidden, notFound } from '../errors.js';
import { iso } from '../domain/clock.js';
import { allGrantsScope, approvedResources, approves, canViewGrant, canViewRequest } from '../domain/rights.js';
import type { Resource } from '../domain/types.js';
import type { GrantRecord, RequestRecord, Tx } from '../store/types.js';
import type { AccessRequest, Grant } from '../protocol/index.js';
import { type Actor, type Core, grantNow } from './change.js';
import { requestView } from './views.js';

export function resourceOf(core: Core, id: string): Resource {
  const r = core.policy().resources.get(id);
  if (!r) throw notFound('resource', id);
  return r;
}

/** The request if this actor may see it (rights.canViewRequest), else 404. */
export async function visibleRequest(core: Core, tx: Tx, actor: Actor, id: string): Promise<RequestRecord> {
  const r = await tx.requests.get(id);
  if (!r || !canViewRequest(core.policy(), actor.user, r)) throw notFound('request', id);
  return r;
}

/** The grant if this actor may see it (rights.canViewGrant), else 404. */
export async function visibleGrant(core: Core, tx: Tx, actor: Actor, id: string): Promise<GrantRecord> {
  const g = await tx.grants.get(id);
  if (!g || !canViewGrant(core.policy(), actor.user, g)) throw notFound('grant', id);
  return g;
}

export function getRequest(core: Core, actor: Actor, id: string): Promise<{ request: AccessRequest; requesterHistory?: AccessRequest[] }> {
  return core.store.read(async (tx) => {
    const now = core.clock.now();
    const policy = core.policy();
    const r = await visibleRequest(core, tx, actor, id);
    const request = requestView(r, await tx.approvals.of(id), now);
    if (r.requesterId === actor.user.id || !approves(policy, actor.user, r.resourceId)) return { request };
    // only requests the approver could open on their own: not those for resources they do not approve
    const rows = (await tx.requests.byRequester(r.requesterId, 200)).filter((h) => h.id !== id && canViewRequest(policy, actor.user, h)).slice(0, 10);
    const requesterHistory: AccessRequest[] = [];
    for (const h of rows) requesterHistory.push(requestView(h, await tx.approvals.of(h.id), now));
    return { request, requesterHistory };
  });
}

export function listRequests(core: Core, actor: Actor, scope: 'mine' | 'reviewable', status?: AccessRequest['status']): Promise<AccessRequest[]> {
  return core.store.read(async (tx) => {
    const now = core.clock.now();
    const u = actor.user;
    const out: AccessRequest[] = [];
    if (scope === 'mine') {
      for (const r of await tx.requests.byRequester(u.id, 200, status)) out.push(requestView(r, await tx.approvals.of(r.id), now));
    } else {
      const mine = approvedResources(core.policy(), u);
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

export function getGrant(core: Core, actor: Actor, id: string): Promise<Grant> {
  return core.store.read(async (tx) => grantNow(tx, await visibleGrant(core, tx, actor, id), core.clock.now()));
}

export function listGrants(
  core: Core,
  actor: Actor,
  q: { scope: 'mine' | 'all'; status?: Grant['status']; limit: number; cursor?: string },
): Promise<{ grants: Grant[]; nextCursor: string | null }> {
  const u = actor.user;
  const beforeSeq = q.cursor !== undefined ? decodeCursor(q.cursor) : undefined;
  let filter: { userId?: string; resourceIds?: string[] };
  if (q.scope === 'mine') filter = { userId: u.id };
  else {
    const scope = allGrantsScope(core.policy(), u);
    if (!scope) throw forbidden('scope=all needs the admin or auditor role, or approver rights on a resource');
    filter = scope;
  }
  return core.store.read(async (tx) => {
    const now = core.clock.now();
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
        const g = await grantNow(tx, row, now);
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
export async function check(core: Core, userId: string, resourceId: string, role: string): Promise<{ allowed: boolean; grantId?: string; expiresAt?: string }> {
  const g = await core.store.read((tx) => tx.grants.check(userId, resourceId, role, core.clock.now()));
  return g ? { allowed: true, grantId: g.id, expiresAt: iso(g.expiresAt) } : { allowed: false };
}

const encodeCursor = (seq: number) => Buffer.from(`g:${seq}`).toString('base64url');
function decodeCursor(c: string): number {
  const m = /^g:(\d{1,15})$/.exec(Buffer.from(c, 'base64url').toString());
  if (!m) throw new ApiError('invalid_request', 'cursor is not valid', [{ path: 'cursor', message: 'not a cursor returned by this API' }]);
  return Number(m[1]);
}
