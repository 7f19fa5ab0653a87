// The repositories of a transaction on SQLite: requests, approvals, grants, tokens, users and the
// outbox (audit, identity and credentials have files of their own). Each is a set of statements
// prepared once per connection; the methods are async only to match the interface (they run
// synchronously on better-sqlite3) and take and return domain records.
import type { Database, Statement } from 'better-sqlite3';
import type {
  ApprovalRecord,
  ApprovalRepo,
  GrantRecord,
  GrantRepo,
  GrantStatus,
  NewGrant,
  NewRequest,
  NewToken,
  OutboxRecord,
  OutboxRepo,
  RequestRecord,
  RequestRepo,
  RequestStatus,
  TokenRecord,
  TokenRepo,
  UserRecord,
  UserRepo,
} from '../types.js';
import {
  type GrantRow,
  type OutboxRow,
  type RequestRow,
  type TokenRow,
  type UserRow,
  requestParams,
  toGrant,
  toOutbox,
  toRequest,
  toToken,
  toUser,
} from './rows.js';

/** Statements whose text depends on the call (IN lists, optional filters), kept prepared by text. */
export class StatementCache {
  private readonly cache = new Map<string, Statement>();
  constructor(readonly db: Database) {}
  get(sql: string): Statement {
    let s = this.cache.get(sql);
    if (!s) {
      // a handful of shapes recur (filters × list lengths); a bound keeps odd lengths from piling up
      if (this.cache.size >= 256) this.cache.clear();
      s = this.db.prepare(sql);
      this.cache.set(sql, s);
    }
    return s;
  }
}

const marks = (n: number) => Array.from({ length: n }, () => '?').join(',');
const minOf = (s: Statement): number | null => (s.get() as { t: number | null }).t;

export class SqliteRequests implements RequestRepo {
  private readonly byId: Statement;
  private readonly insertStmt: Statement;
  private readonly decideStmt: Statement;
  private readonly byRequesterStmt: Statement;
  private readonly byRequesterStatus: Statement;
  private readonly pendingExtensionStmt: Statement;
  private readonly pendingExtensionsStmt: Statement;
  private readonly approvedExtension: Statement;
  private readonly duePendingStmt: Statement;
  private readonly pendingForResourceStmt: Statement;
  private readonly pendingByRequesterStmt: Statement;
  private readonly allPendingStmt: Statement;

  constructor(private readonly c: StatementCache) {
    const p = (sql: string) => c.db.prepare(sql);
    this.byId = p('SELECT * FROM requests WHERE id = ?');
    this.insertStmt = p(`INSERT INTO requests (id, kind, requester_id, resource_id, role, duration_s, justification, ticket, status,
        grant_id, required, auto_approved, break_glass, evaluation, created_at, decided_at, pending_until)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.decideStmt = p('UPDATE requests SET status = ?, decided_at = ?, grant_id = COALESCE(?, grant_id) WHERE id = ? AND status = ?');
    this.byRequesterStmt = p('SELECT * FROM requests WHERE requester_id = ? ORDER BY seq DESC LIMIT ?');
    this.byRequesterStatus = p('SELECT * FROM requests WHERE requester_id = ? AND status = ? ORDER BY seq DESC LIMIT ?');
    this.pendingExtensionStmt = p(`SELECT * FROM requests WHERE grant_id = ? AND kind = 'extension' AND status = 'pending'`);
    this.pendingExtensionsStmt = p(`SELECT * FROM requests WHERE grant_id IN (SELECT value FROM json_each(?)) AND kind = 'extension' AND status = 'pending'`);
    // through the requester's index: a user's requests are few, every request's grant_id is not indexed
    this.approvedExtension = p(`SELECT COALESCE(SUM(duration_s), 0) AS s FROM requests
      WHERE requester_id = ? AND grant_id = ? AND kind = 'extension' AND status = 'approved'`);
    this.duePendingStmt = p(`SELECT * FROM requests WHERE status = 'pending' AND pending_until <= ? ORDER BY pending_until LIMIT ?`);
    this.pendingForResourceStmt = p(`SELECT * FROM requests WHERE status = 'pending' AND resource_id = ? ORDER BY seq`);
    this.pendingByRequesterStmt = p(`SELECT * FROM requests WHERE status = 'pending' AND requester_id = ? ORDER BY seq`);
    this.allPendingStmt = p(`SELECT * FROM requests WHERE status = 'pending' ORDER BY seq`);
  }

  async get(id: string): Promise<RequestRecord | undefined> {
    const r = this.byId.get(id) as RequestRow | undefined;
    return r && toRequest(r);
  }
  async insert(r: NewRequest): Promise<void> {
    this.insertStmt.run(...requestParams(r));
  }
  async decide(id: string, status: RequestStatus, at: number, grantId: string | null, from: RequestStatus = 'pending'): Promise<boolean> {
    return this.decideStmt.run(status, at, grantId, id, from).changes === 1;
  }
  async byRequester(requesterId: string, limit: number, status?: RequestStatus): Promise<RequestRecord[]> {
    const rows = status ? this.byRequesterStatus.all(requesterId, status, limit) : this.byRequesterStmt.all(requesterId, limit);
    return (rows as RequestRow[]).map(toRequest);
  }
  async forResources(resourceIds: string[], status: RequestStatus | undefined, limit: number): Promise<RequestRecord[]> {
    if (resourceIds.length === 0) return [];
    const sql = `SELECT * FROM requests WHERE resource_id IN (${marks(resourceIds.length)})${status ? ' AND status = ?' : ''} ORDER BY seq DESC LIMIT ?`;
    return (this.c.get(sql).all(...resourceIds, ...(status ? [status] : []), limit) as RequestRow[]).map(toRequest);
  }
  async pendingExtension(grantId: string): Promise<RequestRecord | undefined> {
    const r = this.pendingExtensionStmt.get(grantId) as RequestRow | undefined;
    return r && toRequest(r);
  }
  async pendingExtensions(grantIds: string[]): Promise<Map<string, RequestRecord>> {
    if (grantIds.length === 0) return new Map();
    const rows = this.pendingExtensionsStmt.all(JSON.stringify(grantIds)) as RequestRow[];
    return new Map(rows.map((r) => [r.grant_id!, toRequest(r)]));
  }
  async approvedExtensionSeconds(userId: string, grantId: string): Promise<number> {
    return (this.approvedExtension.get(userId, grantId) as { s: number }).s;
  }
  async duePending(now: number, limit: number): Promise<RequestRecord[]> {
    return (this.duePendingStmt.all(now, limit) as RequestRow[]).map(toRequest);
  }
  async pendingForResource(resourceId: string): Promise<RequestRecord[]> {
    return (this.pendingForResourceStmt.all(resourceId) as RequestRow[]).map(toRequest);
  }
  async pendingByRequester(userId: string): Promise<RequestRecord[]> {
    return (this.pendingByRequesterStmt.all(userId) as RequestRow[]).map(toRequest);
  }
  async allPending(): Promise<RequestRecord[]> {
    return (this.allPendingStmt.all() as RequestRow[]).map(toRequest);
  }
}

export class SqliteApprovals implements ApprovalRepo {
  private readonly ofStmt: Statement;
  private readonly addStmt: Statement;
  constructor(db: Database) {
    this.ofStmt = db.prepare('SELECT * FROM approvals WHERE request_id = ? ORDER BY at, approver_id');
    // the primary key (request, approver): a second decision by the same approver changes nothing
    this.addStmt = db.prepare('INSERT INTO approvals (request_id, approver_id, decision, comment, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING');
  }
  async of(requestId: string): Promise<ApprovalRecord[]> {
    const rows = this.ofStmt.all(requestId) as { request_id: string; approver_id: string; decision: 'approve' | 'deny'; comment: string | null; at: number }[];
    return rows.map((r) => ({ requestId: r.request_id, approverId: r.approver_id, decision: r.decision, comment: r.comment, at: r.at }));
  }
  async add(a: ApprovalRecord): Promise<boolean> {
    return this.addStmt.run(a.requestId, a.approverId, a.decision, a.comment, a.at).changes === 1;
  }
}

/** What expireDue's UPDATE returns, in this order; the rest it sets to constants. */
const EXPIRED_COLUMNS = 'seq, id, request_id, user_id, resource_id, role, starts_at, expires_at, max_expires_at, extensions, revoke_pending, warned';
type ExpiredRow = [number, string, string, string, string, string, number, number, number, number, number, number];

const expiredGrant = (r: ExpiredRow): GrantRecord => ({
  seq: r[0],
  id: r[1],
  requestId: r[2],
  userId: r[3],
  resourceId: r[4],
  role: r[5],
  startsAt: r[6],
  expiresAt: r[7],
  maxExpiresAt: r[8],
  status: 'expired',
  extensions: r[9],
  revokePending: r[10] === 1,
  endedAt: r[7],
  endedBy: 'system',
  endReason: 'expired',
  warned: r[11],
});

export class SqliteGrants implements GrantRepo {
  private readonly byId: Statement;
  private readonly insertStmt: Statement;
  private readonly endStmt: Statement;
  private readonly extendStmt: Statement;
  private readonly refreshMax: Statement;
  private readonly combos: Statement;
  private readonly activeOfStmt: Statement;
  private readonly setWarnedStmt: Statement;
  private readonly setRevokePendingStmt: Statement;
  private readonly expireDueStmt: Statement;
  private readonly dueWarningsStmt: Record<number, Statement>;
  private readonly nextDueStmt: Statement;
  private readonly activeStmt: Statement;
  private readonly activeForUser: Statement;
  private readonly activeForResource: Statement;
  private readonly checkStmt: Statement;

  constructor(private readonly c: StatementCache) {
    const p = (sql: string) => c.db.prepare(sql);
    this.byId = p('SELECT * FROM grants WHERE id = ?');
    this.insertStmt = p(`INSERT INTO grants (id, request_id, user_id, resource_id, role, starts_at, expires_at, max_expires_at, warned, status)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'active')`);
    this.endStmt = p(`UPDATE grants SET status = ?, ended_at = ?, ended_by = ?, end_reason = ?, revoke_pending = ? WHERE id = ? AND status = 'active'`);
    // conditional on the end the decision read: two extensions racing cannot both apply
    this.extendStmt = p(`UPDATE grants SET expires_at = ?, max_expires_at = ?, extensions = extensions + 1, warned = 0
      WHERE id = ? AND status = 'active' AND expires_at = ?`);
    this.refreshMax = p(`UPDATE grants SET max_expires_at = MAX(expires_at, starts_at + @total)
      WHERE status = 'active' AND resource_id = @resource AND max_expires_at != MAX(expires_at, starts_at + @total)`);
    this.combos = p(`SELECT DISTINCT user_id, resource_id, role FROM grants WHERE status = 'active'`);
    this.activeOfStmt = p(`SELECT * FROM grants WHERE status = 'active' AND user_id = ? AND resource_id = ? AND role = ?`);
    this.setWarnedStmt = p('UPDATE grants SET warned = ? WHERE id = ?');
    this.setRevokePendingStmt = p('UPDATE grants SET revoke_pending = ? WHERE id = ?');
    // one UPDATE … RETURNING instead of a SELECT and an UPDATE per grant; the write lock makes
    // the claim exclusive (one writer at a time on SQLite)
    // (the claim by seq, the rowid, seeks no second index; rows come back as arrays, without the
    // columns this statement sets to constants: the catch-up sweep ends 100,000 grants this way)
    this.expireDueStmt = p(`UPDATE grants SET status = 'expired', ended_at = expires_at, ended_by = 'system', end_reason = 'expired',
        revoke_pending = resource_id IN (SELECT value FROM json_each(@deprovisioned))
      WHERE seq IN (SELECT seq FROM grants WHERE status = 'active' AND expires_at <= @now ORDER BY expires_at LIMIT @limit)
      RETURNING ${EXPIRED_COLUMNS}`).raw(true);
    // literal bits match the partial indexes of migration 3
    this.dueWarningsStmt = {
      1: p(`SELECT * FROM grants WHERE status = 'active' AND (warned & 1) = 0 AND expires_at > ? AND expires_at <= ? ORDER BY expires_at LIMIT 1000`),
      2: p(`SELECT * FROM grants WHERE status = 'active' AND (warned & 2) = 0 AND expires_at > ? AND expires_at <= ? ORDER BY expires_at LIMIT 1000`),
    };
    // each branch repeats its partial index's WHERE (migration 3), so each is one index seek
    this.nextDueStmt = p(`SELECT MIN(t) AS t FROM (
        SELECT MIN(expires_at) AS t FROM grants WHERE status = 'active'
        UNION ALL SELECT MIN(expires_at) - @lead1 FROM grants WHERE status = 'active' AND (warned & 1) = 0
        UNION ALL SELECT MIN(expires_at) - @lead2 FROM grants WHERE status = 'active' AND (warned & 2) = 0
        UNION ALL SELECT MIN(pending_until) FROM requests WHERE status = 'pending')`);
    this.activeStmt = p(`SELECT * FROM grants WHERE status = 'active' ORDER BY expires_at`);
    this.activeForUser = p(`SELECT * FROM grants WHERE status = 'active' AND user_id = ?`);
    this.activeForResource = p(`SELECT * FROM grants WHERE status = 'active' AND resource_id = ?`);
    this.checkStmt = p(`SELECT id, expires_at FROM grants WHERE status = 'active' AND user_id = ? AND resource_id = ? AND role = ? AND expires_at > ?
      ORDER BY expires_at DESC LIMIT 1`);
  }

  async get(id: string): Promise<GrantRecord | undefined> {
    const r = this.byId.get(id) as GrantRow | undefined;
    return r && toGrant(r);
  }
  async insert(g: NewGrant): Promise<void> {
    this.insertStmt.run(g.id, g.requestId, g.userId, g.resourceId, g.role, g.startsAt, g.expiresAt, g.maxExpiresAt, g.warned ?? 0);
  }
  async end(id: string, status: Exclude<GrantStatus, 'active'>, at: number, by: string, reason: string | null, revokePending: boolean): Promise<boolean> {
    return this.endStmt.run(status, at, by, reason, revokePending ? 1 : 0, id).changes === 1;
  }
  async extend(id: string, fromExpiresAt: number, expiresAt: number, maxExpiresAt: number): Promise<boolean> {
    return this.extendStmt.run(expiresAt, maxExpiresAt, id, fromExpiresAt).changes === 1;
  }
  async refreshMaxExpires(resourceId: string, maxTotalMs: number): Promise<void> {
    this.refreshMax.run({ total: maxTotalMs, resource: resourceId });
  }
  async activeCombos(): Promise<{ userId: string; resourceId: string; role: string }[]> {
    const rows = this.combos.all() as { user_id: string; resource_id: string; role: string }[];
    return rows.map((r) => ({ userId: r.user_id, resourceId: r.resource_id, role: r.role }));
  }
  async activeOf(userId: string, resourceId: string, role: string): Promise<GrantRecord[]> {
    return (this.activeOfStmt.all(userId, resourceId, role) as GrantRow[]).map(toGrant);
  }
  async setWarned(id: string, mask: number): Promise<void> {
    this.setWarnedStmt.run(mask, id);
  }
  async setRevokePending(id: string, pending: boolean): Promise<void> {
    this.setRevokePendingStmt.run(pending ? 1 : 0, id);
  }
  async expireDue(now: number, limit: number, deprovisioned: string[]): Promise<GrantRecord[]> {
    const rows = this.expireDueStmt.all({ now, limit, deprovisioned: JSON.stringify(deprovisioned) }) as ExpiredRow[];
    return rows.sort((a, b) => a[7] - b[7] || a[0] - b[0]).map(expiredGrant);
  }
  async dueWarnings(now: number, beforeMs: number, bit: number): Promise<GrantRecord[]> {
    return (this.warningStmt(this.dueWarningsStmt, bit).all(now, now + beforeMs) as GrantRow[]).map(toGrant);
  }
  async nextDue(leadMs: Readonly<Record<1 | 2, number>>): Promise<number | null> {
    return (this.nextDueStmt.get({ lead1: leadMs[1], lead2: leadMs[2] }) as { t: number | null }).t;
  }
  private warningStmt(by: Record<number, Statement>, bit: number): Statement {
    const s = by[bit];
    if (!s) throw new Error(`no expiry warning with bit ${bit} (1 and 2 exist)`);
    return s;
  }
  async active(): Promise<GrantRecord[]> {
    return (this.activeStmt.all() as GrantRow[]).map(toGrant);
  }
  async activeFor(by: { userId: string } | { resourceId: string }): Promise<GrantRecord[]> {
    const rows = 'userId' in by ? this.activeForUser.all(by.userId) : this.activeForResource.all(by.resourceId);
    return (rows as GrantRow[]).map(toGrant);
  }
  async check(userId: string, resourceId: string, role: string, now: number): Promise<{ id: string; expiresAt: number } | undefined> {
    const r = this.checkStmt.get(userId, resourceId, role, now) as { id: string; expires_at: number } | undefined;
    return r && { id: r.id, expiresAt: r.expires_at };
  }
  async list(f: { userId?: string; resourceIds?: string[]; status?: GrantStatus; beforeSeq?: number; limit: number }): Promise<GrantRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.userId !== undefined) {
      where.push('user_id = ?');
      args.push(f.userId);
    }
    if (f.resourceIds !== undefined) {
      if (f.resourceIds.length === 0) return [];
      where.push(`resource_id IN (${marks(f.resourceIds.length)})`);
      args.push(...f.resourceIds);
    }
    if (f.status !== undefined) {
      where.push('status = ?');
      args.push(f.status);
    }
    if (f.beforeSeq !== undefined) {
      where.push('seq < ?');
      args.push(f.beforeSeq);
    }
    const sql = `SELECT * FROM grants${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`;
    return (this.c.get(sql).all(...args, f.limit) as GrantRow[]).map(toGrant);
  }
}

export class SqliteTokens implements TokenRepo {
  private readonly byHashStmt: Statement;
  private readonly byId: Statement;
  private readonly insertStmt: Statement;
  private readonly revokeStmt: Statement;
  private readonly all: Statement;
  private readonly forUser: Statement;
  private readonly touchStmt: Statement;
  constructor(db: Database) {
    this.byHashStmt = db.prepare('SELECT * FROM tokens WHERE hash = ?');
    this.byId = db.prepare('SELECT * FROM tokens WHERE id = ?');
    this.insertStmt = db.prepare('INSERT INTO tokens (id, user_id, hash, label, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)');
    this.revokeStmt = db.prepare('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
    this.all = db.prepare('SELECT * FROM tokens ORDER BY created_at');
    this.forUser = db.prepare('SELECT * FROM tokens WHERE user_id = ? ORDER BY created_at');
    this.touchStmt = db.prepare('UPDATE tokens SET last_used_at = ? WHERE id = ?');
  }
  async byHash(hash: Buffer): Promise<TokenRecord | undefined> {
    const r = this.byHashStmt.get(hash) as TokenRow | undefined;
    return r && toToken(r);
  }
  async get(id: string): Promise<TokenRecord | undefined> {
    const r = this.byId.get(id) as TokenRow | undefined;
    return r && toToken(r);
  }
  async insert(t: NewToken): Promise<void> {
    this.insertStmt.run(t.id, t.userId, t.hash, t.label, t.createdAt, t.expiresAt);
  }
  async revoke(id: string, at: number): Promise<boolean> {
    return this.revokeStmt.run(at, id).changes === 1;
  }
  async list(userId?: string): Promise<TokenRecord[]> {
    return ((userId !== undefined ? this.forUser.all(userId) : this.all.all()) as TokenRow[]).map(toToken);
  }
  async touch(id: string, at: number): Promise<void> {
    this.touchStmt.run(at, id);
  }
}

export class SqliteUsers implements UserRepo {
  private readonly all: Statement;
  private readonly upsertStmt: Statement;
  private readonly deactivateStmt: Statement;
  constructor(db: Database) {
    this.all = db.prepare('SELECT * FROM users ORDER BY id');
    this.upsertStmt = db.prepare(`INSERT INTO users (id, name, groups, roles, active) VALUES (?, ?, ?, ?, 1)
      ON CONFLICT(id) DO UPDATE SET name = excluded.name, groups = excluded.groups, roles = excluded.roles, active = 1`);
    this.deactivateStmt = db.prepare('UPDATE users SET active = 0 WHERE id = ?');
  }
  async list(): Promise<UserRecord[]> {
    return (this.all.all() as UserRow[]).map(toUser);
  }
  async upsert(u: { id: string; name: string; groups: string[]; roles: string[] }): Promise<void> {
    this.upsertStmt.run(u.id, u.name, JSON.stringify(u.groups), JSON.stringify(u.roles));
  }
  async deactivate(id: string): Promise<void> {
    this.deactivateStmt.run(id);
  }
}

export class SqliteOutbox implements OutboxRepo {
  private readonly insertStmt: Statement;
  private readonly claimStmt: Statement;
  private readonly nextStmt: Statement;
  private readonly doneStmt: Statement;
  private readonly retryStmt: Statement;
  private readonly openForGrantStmt: Statement;
  constructor(db: Database) {
    this.insertStmt = db.prepare('INSERT INTO outbox (kind, grant_id, payload, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?)');
    // the claim and its lease in one statement: a worker that dies holding the items leaves them
    // due again once the lease has run out
    this.claimStmt = db.prepare(`UPDATE outbox SET next_attempt_at = @now + @lease
      WHERE id IN (SELECT id FROM outbox WHERE done_at IS NULL AND next_attempt_at <= @now ORDER BY id LIMIT @limit)
      RETURNING *`);
    this.nextStmt = db.prepare('SELECT MIN(next_attempt_at) AS t FROM outbox WHERE done_at IS NULL');
    this.doneStmt = db.prepare('UPDATE outbox SET done_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?');
    this.retryStmt = db.prepare('UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?');
    this.openForGrantStmt = db.prepare('SELECT * FROM outbox WHERE grant_id = ? AND done_at IS NULL ORDER BY id');
  }
  async enqueue(kind: string, grantId: string | null, payload: unknown, now: number): Promise<void> {
    this.insertStmt.run(kind, grantId, JSON.stringify(payload), now, now);
  }
  async claim(now: number, limit: number, leaseMs: number): Promise<OutboxRecord[]> {
    const rows = this.claimStmt.all({ now, limit, lease: leaseMs }) as OutboxRow[];
    return rows.sort((a, b) => a.id - b.id).map(toOutbox);
  }
  async next(): Promise<number | null> {
    return minOf(this.nextStmt);
  }
  async done(id: number, at: number): Promise<void> {
    this.doneStmt.run(at, id);
  }
  async retry(id: number, nextAt: number, error: string): Promise<void> {
    this.retryStmt.run(nextAt, error, id);
  }
  async openForGrant(grantId: string): Promise<OutboxRecord[]> {
    return (this.openForGrantStmt.all(grantId) as OutboxRow[]).map(toOutbox);
  }
}
