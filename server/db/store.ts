// All SQL for requests, grants, approvals, tokens, users and the outbox. The engine sees plain
// rows and a `tx()` that runs a function in one transaction; a second store (e.g. PostgreSQL for
// replicated deployments) would implement the same methods.
import type { Database, Statement } from 'better-sqlite3';
import { AuditLog } from './audit.js';

/** The group's transaction is gone (SQLite rolled it back): the storage failed, so 503 to everyone in it. */
const lostTransaction = () => Object.assign(new Error('the transaction was rolled back by SQLite'), { code: 'SQLITE_ABORT_ROLLBACK' });

interface Group {
  done: Promise<void>;
  resolve: () => void;
  reject: (e: unknown) => void;
  callbacks: ((err?: unknown) => void)[];
}

export interface RequestRow {
  seq: number;
  id: string;
  kind: 'access' | 'extension';
  requester_id: string;
  resource_id: string;
  role: string;
  duration_s: number;
  justification: string;
  ticket: string | null;
  status: 'pending' | 'approved' | 'denied' | 'cancelled' | 'expired';
  grant_id: string | null;
  required: number;
  auto_approved: number;
  break_glass: number;
  evaluation: string;
  created_at: number;
  decided_at: number | null;
  pending_until: number;
}

export interface ApprovalRow {
  request_id: string;
  approver_id: string;
  decision: 'approve' | 'deny';
  comment: string | null;
  at: number;
}

export interface GrantRow {
  seq: number;
  id: string;
  request_id: string;
  user_id: string;
  resource_id: string;
  role: string;
  starts_at: number;
  expires_at: number;
  max_expires_at: number;
  status: 'active' | 'expired' | 'revoked' | 'relinquished' | 'failed';
  extensions: number;
  revoke_pending: number;
  ended_at: number | null;
  ended_by: string | null;
  end_reason: string | null;
  warned: number;
}

export interface TokenRow {
  id: string;
  user_id: string;
  hash: Buffer;
  label: string | null;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
}

export interface OutboxRow {
  id: number;
  kind: string;
  grant_id: string | null;
  payload: string;
  created_at: number;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  done_at: number | null;
}

export interface UserRow {
  id: string;
  name: string;
  groups: string;
  roles: string;
  active: number;
}

type Stmts = Record<string, Statement>;

export class Store {
  readonly audit: AuditLog;
  private readonly s: Stmts;

  constructor(
    readonly db: Database,
    /** see tx(): on in the server, off for the CLI (whose process may exit right after a write) */
    private readonly groupCommit = false,
  ) {
    this.audit = new AuditLog(db);
    // one transaction function for every tx(): better-sqlite3 compiles a wrapper per call otherwise
    this.runner = db.transaction((fn: () => unknown) => fn()) as unknown as Store['runner'];
    this.begin = db.prepare('BEGIN IMMEDIATE');
    this.commit = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      requestById: p('SELECT * FROM requests WHERE id = ?'),
      insertRequest: p(`INSERT INTO requests (id, kind, requester_id, resource_id, role, duration_s, justification, ticket, status,
          grant_id, required, auto_approved, break_glass, evaluation, created_at, decided_at, pending_until)
        VALUES (@id, @kind, @requester_id, @resource_id, @role, @duration_s, @justification, @ticket, @status,
          @grant_id, @required, @auto_approved, @break_glass, @evaluation, @created_at, @decided_at, @pending_until)`),
      decideRequest: p('UPDATE requests SET status = ?, decided_at = ?, grant_id = COALESCE(?, grant_id) WHERE id = ? AND status = ?'),
      approvalsFor: p('SELECT * FROM approvals WHERE request_id = ? ORDER BY at, approver_id'),
      insertApproval: p('INSERT INTO approvals (request_id, approver_id, decision, comment, at) VALUES (?, ?, ?, ?, ?)'),
      requestsByRequester: p('SELECT * FROM requests WHERE requester_id = ? ORDER BY seq DESC LIMIT ?'),
      requestsByRequesterStatus: p('SELECT * FROM requests WHERE requester_id = ? AND status = ? ORDER BY seq DESC LIMIT ?'),
      pendingExtensionFor: p(`SELECT * FROM requests WHERE grant_id = ? AND kind = 'extension' AND status = 'pending'`),
      // through the requester's index: a user's requests are few, every request's grant_id is not indexed
      // for /metrics, once per scrape; each count has its partial index but revoke_pending
      opsCounts: p(`SELECT
        (SELECT COUNT(*) FROM grants WHERE status = 'active' AND expires_at > ?) AS activeGrants,
        (SELECT COUNT(*) FROM requests WHERE status = 'pending') AS pendingRequests,
        (SELECT COUNT(*) FROM outbox WHERE done_at IS NULL) AS outboxDepth,
        (SELECT MIN(created_at) FROM outbox WHERE done_at IS NULL) AS outboxOldestCreatedAt,
        (SELECT COUNT(*) FROM grants WHERE revoke_pending = 1) AS revokePending`),
      schemaVersion: p('PRAGMA user_version'),
      approvedExtensionSeconds: p(`SELECT COALESCE(SUM(duration_s), 0) AS s FROM requests
        WHERE requester_id = ? AND grant_id = ? AND kind = 'extension' AND status = 'approved'`),
      duePendingRequests: p(`SELECT * FROM requests WHERE status = 'pending' AND pending_until <= ? ORDER BY pending_until LIMIT ?`),
      nextPendingDeadline: p(`SELECT MIN(pending_until) AS t FROM requests WHERE status = 'pending'`),
      pendingForResourceAll: p(`SELECT * FROM requests WHERE status = 'pending' AND resource_id = ? ORDER BY seq`),
      pendingByRequester: p(`SELECT * FROM requests WHERE status = 'pending' AND requester_id = ? ORDER BY seq`),

      grantById: p('SELECT * FROM grants WHERE id = ?'),
      insertGrant: p(`INSERT INTO grants (id, request_id, user_id, resource_id, role, starts_at, expires_at, max_expires_at, status)
        VALUES (@id, @request_id, @user_id, @resource_id, @role, @starts_at, @expires_at, @max_expires_at, 'active')`),
      endGrant: p(`UPDATE grants SET status = ?, ended_at = ?, ended_by = ?, end_reason = ?, revoke_pending = ? WHERE id = ? AND status = 'active'`),
      extendGrant: p(`UPDATE grants SET expires_at = ?, max_expires_at = ?, extensions = extensions + 1, warned = 0 WHERE id = ? AND status = 'active'`),
      refreshMaxExpires: p(`UPDATE grants SET max_expires_at = MAX(expires_at, starts_at + @total)
        WHERE status = 'active' AND resource_id = @resource AND max_expires_at != MAX(expires_at, starts_at + @total)`),
      activeCombos: p(`SELECT DISTINCT user_id, resource_id, role FROM grants WHERE status = 'active'`),
      activeGrantsOf: p(`SELECT * FROM grants WHERE status = 'active' AND user_id = ? AND resource_id = ? AND role = ?`),
      setWarned: p('UPDATE grants SET warned = ? WHERE id = ?'),
      setRevokePending: p('UPDATE grants SET revoke_pending = ? WHERE id = ?'),
      failGrant: p(`UPDATE grants SET status = 'failed', ended_at = ?, ended_by = 'system', end_reason = ? WHERE id = ? AND status = 'active'`),
      expireDue: p(`UPDATE grants SET status = 'expired', ended_at = expires_at, ended_by = 'system', end_reason = 'expired',
          revoke_pending = resource_id IN (SELECT value FROM json_each(@deprovisioned))
        WHERE id IN (SELECT id FROM grants WHERE status = 'active' AND expires_at <= @now ORDER BY expires_at LIMIT @limit)
        RETURNING *`),
      pendingExtensionsFor: p(`SELECT * FROM requests WHERE grant_id IN (SELECT value FROM json_each(?)) AND kind = 'extension' AND status = 'pending'`),
      nextGrantExpiry: p(`SELECT MIN(expires_at) AS t FROM grants WHERE status = 'active'`),
      activeGrants: p(`SELECT * FROM grants WHERE status = 'active' ORDER BY expires_at`),
      activeForUser: p(`SELECT * FROM grants WHERE status = 'active' AND user_id = ?`),
      activeForResource: p(`SELECT * FROM grants WHERE status = 'active' AND resource_id = ?`),
      checkGrant: p(`SELECT id, expires_at FROM grants WHERE status = 'active' AND user_id = ? AND resource_id = ? AND role = ? AND expires_at > ?
        ORDER BY expires_at DESC LIMIT 1`),

      // literal bits match the partial indexes of migration 3
      dueWarnings1: p(
        `SELECT * FROM grants WHERE status = 'active' AND (warned & 1) = 0 AND expires_at > ? AND expires_at <= ? ORDER BY expires_at LIMIT 1000`,
      ),
      dueWarnings2: p(
        `SELECT * FROM grants WHERE status = 'active' AND (warned & 2) = 0 AND expires_at > ? AND expires_at <= ? ORDER BY expires_at LIMIT 1000`,
      ),
      nextWarning1: p(`SELECT MIN(expires_at) AS t FROM grants WHERE status = 'active' AND (warned & 1) = 0`),
      nextWarning2: p(`SELECT MIN(expires_at) AS t FROM grants WHERE status = 'active' AND (warned & 2) = 0`),
      allPending: p(`SELECT * FROM requests WHERE status = 'pending' ORDER BY seq`),
      grantSeq: p('SELECT seq FROM grants WHERE id = ?'),
      tokenByHash: p('SELECT * FROM tokens WHERE hash = ?'),
      dataVersion: p('PRAGMA data_version').pluck(),
      tokenById: p('SELECT * FROM tokens WHERE id = ?'),
      insertToken: p('INSERT INTO tokens (id, user_id, hash, label, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)'),
      revokeToken: p('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
      tokensAll: p('SELECT * FROM tokens ORDER BY created_at'),
      tokensForUser: p('SELECT * FROM tokens WHERE user_id = ? ORDER BY created_at'),
      touchToken: p('UPDATE tokens SET last_used_at = ? WHERE id = ?'),

      usersAll: p('SELECT * FROM users'),
      upsertUser: p(`INSERT INTO users (id, name, groups, roles, active) VALUES (?, ?, ?, ?, 1)
        ON CONFLICT(id) DO UPDATE SET name = excluded.name, groups = excluded.groups, roles = excluded.roles, active = 1`),
      deactivateUser: p('UPDATE users SET active = 0 WHERE id = ?'),

      insertOutbox: p('INSERT INTO outbox (kind, grant_id, payload, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?)'),
      dueOutbox: p('SELECT * FROM outbox WHERE done_at IS NULL AND next_attempt_at <= ? ORDER BY id LIMIT ?'),
      nextOutbox: p('SELECT MIN(next_attempt_at) AS t FROM outbox WHERE done_at IS NULL'),
      outboxDone: p('UPDATE outbox SET done_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?'),
      outboxRetry: p('UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?'),
      openOutboxForGrant: p('SELECT * FROM outbox WHERE grant_id = ? AND done_at IS NULL ORDER BY id'),
    };
  }

  // ----- transactions -----
  // Without group commit, tx() runs fn in its own IMMEDIATE transaction (the write lock taken up
  // front: no upgrade deadlocks) and has committed when it returns: what the CLI needs.
  //
  // With group commit (the server), the first tx() of an event-loop turn opens one IMMEDIATE
  // transaction and every tx() until the end of that turn runs inside it as a savepoint of its
  // own (a failing fn undoes only its own writes). One COMMIT at the end of the turn (setImmediate)
  // makes them all durable together: a commit costs about as much as the writes of a whole
  // request, so this is where concurrent writers get their throughput. Nothing may be told about a
  // change before its commit: afterCommit() callbacks (live events, workers) run only once it has
  // committed, and the HTTP layer holds every answer until settled() (a failed commit turns them
  // into 503s, and the whole group is rolled back: nothing half-written).
  private readonly runner: ((fn: () => unknown) => unknown) & { immediate(fn: () => unknown): unknown };
  private group: Group | null = null;
  private readonly begin: Statement;
  private readonly commit: Statement;
  private readonly rollback: Statement;

  /** Runs fn in one transaction; see above for when it has committed. */
  tx<T>(fn: () => T): T {
    if (!this.groupCommit) return this.runner.immediate(fn) as T;
    if (this.group && !this.db.inTransaction) this.endGroup(lostTransaction());
    if (!this.group) this.openGroup();
    try {
      return this.runner(fn) as T; // inside the open transaction: a savepoint
    } catch (e) {
      // Some failures (SQLITE_FULL, IOERR, …) make SQLite roll back the whole transaction, not
      // just this savepoint: what the group wrote so far is gone, and every member hears why.
      if (!this.db.inTransaction) this.endGroup(e);
      throw e;
    }
  }

  /** Runs cb once everything written so far has committed (at once without an open group); cb(err) if it failed. */
  afterCommit(cb: (err?: unknown) => void): void {
    if (this.group) this.group.callbacks.push(cb);
    else cb();
  }

  /** Resolves when everything written so far has committed; rejects if that commit failed. */
  settled(): Promise<void> | undefined {
    return this.group?.done;
  }

  /** Commits the open group now (shutdown, tests); a no-op without one. */
  flush(): void {
    if (!this.group) return;
    if (!this.db.inTransaction) return this.endGroup(lostTransaction());
    try {
      this.commit.run();
      this.endGroup();
    } catch (e) {
      if (this.db.inTransaction) this.rollback.run();
      this.endGroup(e);
    }
  }

  private openGroup(): void {
    this.begin.run();
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const done = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
    done.catch(() => {}); // the HTTP layer reports it; an unobserved failure must not crash the process
    this.group = { done, resolve, reject, callbacks: [] };
    setImmediate(() => this.flush());
  }

  private endGroup(err?: unknown): void {
    const g = this.group!;
    this.group = null;
    if (err === undefined) g.resolve();
    else g.reject(err);
    for (const cb of g.callbacks) cb(err);
  }

  // ----- requests -----
  request(id: string): RequestRow | undefined {
    return this.s.requestById.get(id) as RequestRow | undefined;
  }
  insertRequest(r: Omit<RequestRow, 'seq'>): void {
    this.s.insertRequest.run(r);
  }
  /** Moves a request out of `from`; returns false when it was no longer in that state. */
  decideRequest(id: string, status: RequestRow['status'], at: number, grantId: string | null, from: RequestRow['status'] = 'pending'): boolean {
    return this.s.decideRequest.run(status, at, grantId, id, from).changes === 1;
  }
  approvals(requestId: string): ApprovalRow[] {
    return this.s.approvalsFor.all(requestId) as ApprovalRow[];
  }
  addApproval(a: ApprovalRow): void {
    this.s.insertApproval.run(a.request_id, a.approver_id, a.decision, a.comment, a.at);
  }
  requestsBy(requesterId: string, limit: number, status?: string): RequestRow[] {
    return (status ? this.s.requestsByRequesterStatus.all(requesterId, status, limit) : this.s.requestsByRequester.all(requesterId, limit)) as RequestRow[];
  }
  requestsForResources(resourceIds: string[], status: string | undefined, limit: number): RequestRow[] {
    if (resourceIds.length === 0) return [];
    const marks = resourceIds.map(() => '?').join(',');
    const sql = `SELECT * FROM requests WHERE resource_id IN (${marks})${status ? ' AND status = ?' : ''} ORDER BY seq DESC LIMIT ?`;
    return this.db.prepare(sql).all(...resourceIds, ...(status ? [status] : []), limit) as RequestRow[];
  }
  /** Counts for the metrics gauges. */
  opsCounts(now: number): { activeGrants: number; pendingRequests: number; outboxDepth: number; outboxOldestCreatedAt: number | null; revokePending: number } {
    return this.s.opsCounts.get(now) as ReturnType<Store['opsCounts']>;
  }
  /** The schema version of the database (PRAGMA user_version), read from the database itself. */
  schemaVersion(): number {
    return (this.s.schemaVersion.get() as { user_version: number }).user_version;
  }
  /**
   * Seconds added to the grant without an approver: everything past its first end that no
   * approved extension request accounts for (at-once extensions create no request).
   */
  secondsAddedWithoutApproval(g: GrantRow): number {
    const first = this.request(g.request_id);
    if (!first) return 0;
    const approved = (this.s.approvedExtensionSeconds.get(g.user_id, g.id) as { s: number }).s;
    return Math.max(0, Math.round((g.expires_at - g.starts_at) / 1000) - first.duration_s - approved);
  }
  pendingExtension(grantId: string): RequestRow | undefined {
    return this.s.pendingExtensionFor.get(grantId) as RequestRow | undefined;
  }
  duePendingRequests(now: number, limit: number): RequestRow[] {
    return this.s.duePendingRequests.all(now, limit) as RequestRow[];
  }
  nextPendingDeadline(): number | null {
    return (this.s.nextPendingDeadline.get() as { t: number | null }).t;
  }
  pendingForResource(resourceId: string): RequestRow[] {
    return this.s.pendingForResourceAll.all(resourceId) as RequestRow[];
  }
  pendingByRequester(userId: string): RequestRow[] {
    return this.s.pendingByRequester.all(userId) as RequestRow[];
  }

  // ----- grants -----
  grant(id: string): GrantRow | undefined {
    return this.s.grantById.get(id) as GrantRow | undefined;
  }
  insertGrant(g: Pick<GrantRow, 'id' | 'request_id' | 'user_id' | 'resource_id' | 'role' | 'starts_at' | 'expires_at' | 'max_expires_at'>): void {
    this.s.insertGrant.run(g);
  }
  /** Ends an active grant; false when it had already ended. */
  endGrant(id: string, status: GrantRow['status'], at: number, by: string, reason: string | null, revokePending: boolean): boolean {
    return this.s.endGrant.run(status, at, by, reason, revokePending ? 1 : 0, id).changes === 1;
  }
  failGrant(id: string, at: number, reason: string): boolean {
    return this.s.failGrant.run(at, reason, id).changes === 1;
  }
  extendGrant(id: string, expiresAt: number, maxExpiresAt: number): boolean {
    return this.s.extendGrant.run(expiresAt, maxExpiresAt, id).changes === 1;
  }
  /** Keeps active grants' extension limit at start + maxTotal (never below their current end). */
  refreshMaxExpires(resourceId: string, maxTotalMs: number): void {
    this.s.refreshMaxExpires.run({ total: maxTotalMs, resource: resourceId });
  }
  activeCombos(): { user_id: string; resource_id: string; role: string }[] {
    return this.s.activeCombos.all() as { user_id: string; resource_id: string; role: string }[];
  }
  activeGrantsOf(userId: string, resourceId: string, role: string): GrantRow[] {
    return this.s.activeGrantsOf.all(userId, resourceId, role) as GrantRow[];
  }
  setWarned(id: string, mask: number): void {
    this.s.setWarned.run(mask, id);
  }
  setRevokePending(id: string, pending: boolean): void {
    this.s.setRevokePending.run(pending ? 1 : 0, id);
  }
  /**
   * Ends up to `limit` due grants as expired (at their own expires_at) in one statement and
   * returns them as they are now, soonest first; those on a resource in `deprovisioned` are
   * marked revoke_pending. One UPDATE … RETURNING instead of a SELECT and an UPDATE per grant.
   */
  expireDue(now: number, limit: number, deprovisioned: string[]): GrantRow[] {
    const rows = this.s.expireDue.all({ now, limit, deprovisioned: JSON.stringify(deprovisioned) }) as GrantRow[];
    return rows.sort((a, b) => a.expires_at - b.expires_at || a.seq - b.seq);
  }
  /** The pending extension requests of these grants (at most one each), by grant id. */
  pendingExtensions(grantIds: string[]): Map<string, RequestRow> {
    const rows = this.s.pendingExtensionsFor.all(JSON.stringify(grantIds)) as RequestRow[];
    return new Map(rows.map((r) => [r.grant_id!, r]));
  }
  nextGrantExpiry(): number | null {
    return (this.s.nextGrantExpiry.get() as { t: number | null }).t;
  }
  /** Active grants whose warning `bit` is due (within `beforeMs` of their end) and not yet sent. */
  dueWarnings(now: number, beforeMs: number, bit: number): GrantRow[] {
    return this.s[`dueWarnings${bit}`].all(now, now + beforeMs) as GrantRow[];
  }
  nextWarning(beforeMs: number, bit: number): number | null {
    const t = (this.s[`nextWarning${bit}`].get() as { t: number | null }).t;
    return t === null ? null : t - beforeMs;
  }
  allPending(): RequestRow[] {
    return this.s.allPending.all() as RequestRow[];
  }
  grantSeq(id: string): number | undefined {
    return (this.s.grantSeq.get(id) as { seq: number } | undefined)?.seq;
  }
  activeGrants(): GrantRow[] {
    return this.s.activeGrants.all() as GrantRow[];
  }
  activeGrantsFor(by: { userId?: string; resourceId?: string }): GrantRow[] {
    return (by.userId !== undefined ? this.s.activeForUser.all(by.userId) : this.s.activeForResource.all(by.resourceId)) as GrantRow[];
  }
  checkGrant(userId: string, resourceId: string, role: string, now: number): { id: string; expires_at: number } | undefined {
    return this.s.checkGrant.get(userId, resourceId, role, now) as { id: string; expires_at: number } | undefined;
  }
  listGrants(f: { userId?: string; resourceIds?: string[]; status?: string; beforeSeq?: number; limit: number }): GrantRow[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.userId !== undefined) {
      where.push('user_id = ?');
      args.push(f.userId);
    }
    if (f.resourceIds !== undefined) {
      if (f.resourceIds.length === 0) return [];
      where.push(`resource_id IN (${f.resourceIds.map(() => '?').join(',')})`);
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
    return this.db.prepare(sql).all(...args, f.limit) as GrantRow[];
  }

  // ----- tokens -----
  tokenByHash(hash: Buffer): TokenRow | undefined {
    return this.s.tokenByHash.get(hash) as TokenRow | undefined;
  }
  /** Changes whenever another connection (e.g. the CLI revoking a token) has committed; not on our own commits. */
  dataVersion(): number {
    return this.s.dataVersion.get() as number;
  }
  /** Whether token rows were changed through this store (revocations) since the last call. */
  takeTokensWritten(): boolean {
    const w = this.tokensWritten;
    this.tokensWritten = false;
    return w;
  }
  private tokensWritten = false;
  token(id: string): TokenRow | undefined {
    return this.s.tokenById.get(id) as TokenRow | undefined;
  }
  insertToken(t: Pick<TokenRow, 'id' | 'user_id' | 'hash' | 'label' | 'created_at' | 'expires_at'>): void {
    this.s.insertToken.run(t.id, t.user_id, t.hash, t.label, t.created_at, t.expires_at);
  }
  revokeToken(id: string, at: number): boolean {
    this.tokensWritten = true;
    return this.s.revokeToken.run(at, id).changes === 1;
  }
  tokens(userId?: string): TokenRow[] {
    return (userId !== undefined ? this.s.tokensForUser.all(userId) : this.s.tokensAll.all()) as TokenRow[];
  }
  touchToken(id: string, at: number): void {
    this.s.touchToken.run(at, id);
  }

  // ----- users (the policy's users, remembered so a removal is noticed across restarts) -----
  users(): UserRow[] {
    return this.s.usersAll.all() as UserRow[];
  }
  upsertUser(u: { id: string; name: string; groups: string[]; roles: string[] }): void {
    this.s.upsertUser.run(u.id, u.name, JSON.stringify(u.groups), JSON.stringify(u.roles));
  }
  deactivateUser(id: string): void {
    this.s.deactivateUser.run(id);
  }

  // ----- outbox -----
  enqueue(kind: string, grantId: string | null, payload: unknown, now: number): void {
    this.s.insertOutbox.run(kind, grantId, JSON.stringify(payload), now, now);
    this.outboxWritten = true;
  }
  /** Whether outbox rows were written since the last call (so the worker is woken only then). */
  takeOutboxWritten(): boolean {
    const w = this.outboxWritten;
    this.outboxWritten = false;
    return w;
  }
  private outboxWritten = false;
  dueOutbox(now: number, limit: number): OutboxRow[] {
    return this.s.dueOutbox.all(now, limit) as OutboxRow[];
  }
  nextOutbox(): number | null {
    return (this.s.nextOutbox.get() as { t: number | null }).t;
  }
  outboxDone(id: number, at: number): void {
    this.s.outboxDone.run(at, id);
  }
  outboxRetry(id: number, nextAt: number, error: string): void {
    this.s.outboxRetry.run(nextAt, error, id);
  }
  openOutboxForGrant(grantId: string): OutboxRow[] {
    return this.s.openOutboxForGrant.all(grantId) as OutboxRow[];
  }
}
