// Requests and approvals on PostgreSQL. Decisions are conditional updates (READ COMMITTED
// re-checks the WHERE clause against the row a concurrent writer committed, so of two racing
// decisions exactly one applies).
import type { ApprovalRecord, ApprovalRepo, NewRequest, RequestRecord, RequestRepo, RequestStatus } from '../types.js';
import { requestValues } from '../columns.js';
import { type RequestRow, toApproval, toRequest } from './rows.js';
import { type Ctx, sql } from './sql.js';

const S = {
  get: sql('SELECT * FROM requests WHERE id = $1'),
  insert: sql(`INSERT INTO requests (id, kind, requester_id, resource_id, role, duration_s, justification, ticket, status,
      grant_id, required, auto_approved, break_glass, evaluation, created_at, decided_at, pending_until)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`),
  decide: sql('UPDATE requests SET status = $1, decided_at = $2, grant_id = COALESCE($3, grant_id) WHERE id = $4 AND status = $5'),
  byRequester: sql('SELECT * FROM requests WHERE requester_id = $1 ORDER BY seq DESC LIMIT $2'),
  byRequesterStatus: sql('SELECT * FROM requests WHERE requester_id = $1 AND status = $2 ORDER BY seq DESC LIMIT $3'),
  forResources: sql('SELECT * FROM requests WHERE resource_id = ANY($1) AND ($2::text IS NULL OR status = $2) ORDER BY seq DESC LIMIT $3'),
  pendingExtension: sql(`SELECT * FROM requests WHERE grant_id = $1 AND kind = 'extension' AND status = 'pending'`),
  pendingExtensions: sql(`SELECT * FROM requests WHERE grant_id = ANY($1) AND kind = 'extension' AND status = 'pending'`),
  approvedExtensionSeconds: sql(`SELECT COALESCE(SUM(duration_s), 0)::bigint AS s FROM requests
    WHERE requester_id = $1 AND grant_id = $2 AND kind = 'extension' AND status = 'approved'`),
  duePending: sql(`SELECT * FROM requests WHERE status = 'pending' AND pending_until <= $1 ORDER BY pending_until LIMIT $2`),
  // in a transaction: rows another replica is expiring right now are skipped, not waited for
  duePendingLocked: sql(`SELECT * FROM requests WHERE status = 'pending' AND pending_until <= $1 ORDER BY pending_until LIMIT $2
    FOR UPDATE SKIP LOCKED`),
  pendingForResource: sql(`SELECT * FROM requests WHERE status = 'pending' AND resource_id = $1 ORDER BY seq`),
  pendingByRequester: sql(`SELECT * FROM requests WHERE status = 'pending' AND requester_id = $1 ORDER BY seq`),
  allPending: sql(`SELECT * FROM requests WHERE status = 'pending' ORDER BY seq`),

  approvalsOf: sql('SELECT * FROM approvals WHERE request_id = $1 ORDER BY at, approver_id'),
  // Taken before an approval is added: two approvers of one request (each needing the other's
  // approval to reach `required`) are serialised, so the second one's approvals.of() sees the
  // first one's row. Without it, under READ COMMITTED each could count only its own and
  // neither would approve (write skew).
  lockRequest: sql('SELECT 1 FROM requests WHERE id = $1 FOR UPDATE'),
  addApproval: sql(`INSERT INTO approvals (request_id, approver_id, decision, comment, at) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (request_id, approver_id) DO NOTHING`),
};

export class PgRequests implements RequestRepo {
  constructor(private readonly c: Ctx) {}

  async get(id: string): Promise<RequestRecord | undefined> {
    const r = await this.c.row<RequestRow>(S.get, [id]);
    return r && toRequest(r);
  }
  async insert(r: NewRequest): Promise<void> {
    await this.c.run(
      S.insert,
      requestValues(r, (b) => b),
    );
  }
  async decide(id: string, status: RequestStatus, at: number, grantId: string | null, from: RequestStatus = 'pending'): Promise<boolean> {
    return (await this.c.run(S.decide, [status, at, grantId, id, from])) === 1;
  }
  async byRequester(requesterId: string, limit: number, status?: RequestStatus): Promise<RequestRecord[]> {
    const rows = status
      ? await this.c.rows<RequestRow>(S.byRequesterStatus, [requesterId, status, limit])
      : await this.c.rows<RequestRow>(S.byRequester, [requesterId, limit]);
    return rows.map(toRequest);
  }
  async forResources(resourceIds: string[], status: RequestStatus | undefined, limit: number): Promise<RequestRecord[]> {
    if (resourceIds.length === 0) return [];
    return (await this.c.rows<RequestRow>(S.forResources, [resourceIds, status ?? null, limit])).map(toRequest);
  }
  async pendingExtension(grantId: string): Promise<RequestRecord | undefined> {
    const r = await this.c.row<RequestRow>(S.pendingExtension, [grantId]);
    return r && toRequest(r);
  }
  async pendingExtensions(grantIds: string[]): Promise<Map<string, RequestRecord>> {
    if (grantIds.length === 0) return new Map();
    const rows = await this.c.rows<RequestRow>(S.pendingExtensions, [grantIds]);
    return new Map(rows.map((r) => [r.grant_id!, toRequest(r)]));
  }
  async approvedExtensionSeconds(userId: string, grantId: string): Promise<number> {
    return (await this.c.row<{ s: number }>(S.approvedExtensionSeconds, [userId, grantId]))?.s ?? 0;
  }
  async duePending(now: number, limit: number): Promise<RequestRecord[]> {
    return (await this.c.rows<RequestRow>(this.c.inTx ? S.duePendingLocked : S.duePending, [now, limit])).map(toRequest);
  }
  async pendingForResource(resourceId: string): Promise<RequestRecord[]> {
    return (await this.c.rows<RequestRow>(S.pendingForResource, [resourceId])).map(toRequest);
  }
  async pendingByRequester(userId: string): Promise<RequestRecord[]> {
    return (await this.c.rows<RequestRow>(S.pendingByRequester, [userId])).map(toRequest);
  }
  async allPending(): Promise<RequestRecord[]> {
    return (await this.c.rows<RequestRow>(S.allPending)).map(toRequest);
  }
}

export class PgApprovals implements ApprovalRepo {
  constructor(private readonly c: Ctx) {}

  async of(requestId: string): Promise<ApprovalRecord[]> {
    return (await this.c.rows<Parameters<typeof toApproval>[0]>(S.approvalsOf, [requestId])).map(toApproval);
  }
  async add(a: ApprovalRecord): Promise<boolean> {
    if (this.c.inTx) await this.c.rows(S.lockRequest, [a.requestId]);
    return (await this.c.run(S.addApproval, [a.requestId, a.approverId, a.decision, a.comment, a.at])) === 1;
  }
}
