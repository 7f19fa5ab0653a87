// The state the audit log explains. Every change to requests, approvals, grants and tokens
// commits with its audit event (rule 3), so replaying the events in seq order gives the rows
// as they must be. Comparing that with the rows as they are finds what was written behind the
// server's back: a grant or token row no event explains, a grant's owner or end changed, an
// approval's approver swapped. Pure: events in, expected rows out; rows in, differences out.
//
// Rows are in their table's shape (column names, 0/1 flags, epoch milliseconds), so each
// difference names the column an operator finds in the database. A column is compared only
// when the log says what it must be: events written before a detail was added to them leave
// some columns open (`undefined` in the expected row), never the ones that decide access.
// Bookkeeping columns no event records are not compared: requests.seq, grants.seq,
// grants.max_expires_at (kept in step with the policy), revoke_pending and warned,
// tokens.last_used_at.

/** One audit event as the replay needs it; `details` is the parsed JSON, not yet trusted. */
export interface LogEvent {
  seq: number;
  at: number;
  actorId: string;
  action: string;
  resourceId: string | null;
  requestId: string | null;
  grantId: string | null;
  subjectId: string | null;
  details: Record<string, unknown>;
}

type Value = string | number | null;

export interface RequestState {
  id: string;
  kind: string;
  requester_id: string;
  resource_id: string;
  role: string;
  duration_s: number;
  justification: string;
  ticket: string | null;
  status: string;
  grant_id: string | null;
  required: number;
  auto_approved: number;
  break_glass: number;
  evaluation: string;
  created_at: number;
  decided_at: number | null;
  pending_until: number;
}

export interface ApprovalState {
  request_id: string;
  approver_id: string;
  decision: string;
  comment: string | null;
  at: number;
}

export interface GrantState {
  id: string;
  request_id: string;
  user_id: string;
  resource_id: string;
  role: string;
  starts_at: number;
  expires_at: number;
  status: string;
  extensions: number;
  ended_at: number | null;
  ended_by: string | null;
  end_reason: string | null;
}

export interface TokenState {
  id: string;
  user_id: string;
  label: string | null;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  /** SHA-256 (hex) of the stored token hash: the row's `hash` column, compared without showing it */
  hash: string;
}

/** Someone the identity provider vouched for (server/identity/), or a user disabled on this server. */
export interface IdpUserState {
  id: string;
  issuer: string | null;
  subject: string | null;
  name: string;
  email: string | null;
  /** JSON arrays, as stored */
  groups: string;
  roles: string;
  last_sign_in_at: number | null;
  disabled_at: number | null;
}

/** A row as the log says it must be; `undefined`: the log does not say (older events). */
export type Expected<T> = { [K in keyof T]: T[K] | undefined };

export type StateTable = 'requests' | 'approvals' | 'grants' | 'tokens' | 'idp_users' | 'audit';

export interface StateProblem {
  table: StateTable;
  /** the row's id; approvals: "requestId/approverId"; audit: the event's seq */
  id: string;
  /** unexplained: no event accounts for the row; missing: events say it exists, it does not; differs: see columns */
  kind: 'unexplained' | 'missing' | 'differs';
  columns?: { column: string; expected: Value; actual: Value }[];
}

export interface ExpectedState {
  requests: Map<string, Expected<RequestState>>;
  approvals: Map<string, Expected<ApprovalState>>;
  grants: Map<string, Expected<GrantState>>;
  tokens: Map<string, Expected<TokenState>>;
  idpUsers: Map<string, Expected<IdpUserState>>;
  /** events whose subject_id (outside the hash in format 1) is not whom the log says they are about */
  subjects: StateProblem[];
}

export const approvalKey = (requestId: string, approverId: string) => `${requestId}/${approverId}`;

// ----- reading untrusted details -----
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const strOrNull = (v: unknown): string | null | undefined => (v === null ? null : str(v));
const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);
const flag = (v: unknown): number | undefined => (typeof v === 'boolean' ? (v ? 1 : 0) : undefined);
/** An ISO time from details as epoch ms; undefined when absent or not a time. */
function ms(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}
const msOrNull = (v: unknown): number | null | undefined => (v === null ? null : ms(v));

/**
 * Replays events one at a time (the caller streams them in seq order, so a long log needs no
 * more memory than the rows it explains). `result()` is the expected state.
 */
export class StateReplay {
  private readonly state: ExpectedState = {
    requests: new Map(),
    approvals: new Map(),
    grants: new Map(),
    tokens: new Map(),
    idpUsers: new Map(),
    subjects: [],
  };
  /** reasons of requests whose request.created predates the autoApproved detail: their approval tells the rest */
  private readonly legacy = new Map<string, unknown[] | undefined>();

  apply(e: LogEvent): void {
    const d = e.details;
    const about = this.handle(e, d);
    // format-1 events keep subject_id (who may read the event) outside the hash; the log
    // itself says whom they are about
    if (about !== undefined && e.subjectId !== about) {
      this.state.subjects.push({
        table: 'audit',
        id: String(e.seq),
        kind: 'differs',
        columns: [{ column: 'subject_id', expected: about, actual: e.subjectId }],
      });
    }
  }

  result(): ExpectedState {
    return this.state;
  }

  /** Applies one event; returns whom it is about (its expected subject_id, null: nobody), undefined when the log does not tell. */
  private handle(e: LogEvent, d: Record<string, unknown>): string | null | undefined {
    const { requests, grants, tokens } = this.state;
    const r = e.requestId !== null ? requests.get(e.requestId) : undefined;
    const g = e.grantId !== null ? grants.get(e.grantId) : undefined;
    switch (e.action) {
      case 'request.created': {
        if (e.requestId === null) return undefined;
        const extension = d.kind === 'extension';
        const reasons = Array.isArray(d.reasons) ? d.reasons : undefined;
        const rule = int(d.autoApproveRule);
        if (d.autoApproved === undefined) this.legacy.set(e.requestId, reasons);
        requests.set(e.requestId, {
          id: e.requestId,
          kind: str(d.kind),
          requester_id: e.actorId,
          resource_id: e.resourceId ?? undefined,
          role: str(d.role),
          duration_s: int(d.durationSeconds),
          // an extension's justification is optional; the row keeps '' for none
          justification: extension ? (str(d.justification) ?? '') : str(d.justification),
          ticket: extension ? null : strOrNull(d.ticket ?? null),
          status: 'pending',
          grant_id: extension ? e.grantId : null,
          required: int(d.required),
          auto_approved: d.autoApproved === undefined ? 0 : flag(d.autoApproved),
          break_glass: flag(d.breakGlass ?? false),
          // the engine's own text: autoApproveRule (when one applied) before reasons
          evaluation: reasons === undefined ? undefined : JSON.stringify({ ...(rule !== undefined && { autoApproveRule: rule }), reasons }),
          created_at: e.at,
          decided_at: null,
          pending_until: ms(d.pendingUntil),
        });
        return e.actorId;
      }
      case 'request.approved': {
        if (!r) return undefined;
        r.status = 'approved';
        r.decided_at = e.at;
        if (r.kind === 'access') r.grant_id = e.grantId;
        const how = d.how;
        if (how === 'approvers') this.addApproval(e, 'approve', d.comment);
        if (this.legacy.has(r.id!)) {
          // before autoApproved was recorded at creation: 'auto' says yes, approvers say no,
          // and break-glass does not say (an auto-approvable request may have used it)
          r.auto_approved = how === 'auto' ? 1 : how === 'break-glass' ? undefined : 0;
          const rule = int(d.autoApproveRule);
          const reasons = this.legacy.get(r.id!);
          if (rule !== undefined && reasons !== undefined) r.evaluation = JSON.stringify({ autoApproveRule: rule, reasons });
        }
        return r.requester_id;
      }
      case 'request.approval_recorded':
        if (!r) return undefined;
        this.addApproval(e, 'approve', d.comment);
        return r.requester_id;
      case 'request.denied':
        if (!r) return undefined;
        r.status = 'denied';
        r.decided_at = e.at;
        this.addApproval(e, 'deny', d.reason);
        return r.requester_id;
      case 'request.cancelled':
        if (!r) return undefined;
        r.status = 'cancelled';
        r.decided_at = e.at;
        return r.requester_id;
      case 'request.expired': {
        if (!r) return undefined;
        const until = ms(d.pendingUntil);
        r.status = 'expired';
        // a lapsed request is decided at its deadline, whenever the sweep got to it
        r.decided_at = until;
        r.pending_until = until;
        return r.requester_id;
      }
      case 'grant.activated': {
        if (e.grantId === null) return undefined;
        const userId = str(d.userId);
        grants.set(e.grantId, {
          id: e.grantId,
          request_id: e.requestId ?? undefined,
          user_id: userId,
          resource_id: e.resourceId ?? undefined,
          role: str(d.role),
          starts_at: ms(d.startsAt),
          expires_at: ms(d.expiresAt),
          status: 'active',
          extensions: 0,
          ended_at: null,
          ended_by: null,
          end_reason: null,
        });
        return userId;
      }
      case 'grant.extended':
        if (!g) return undefined;
        g.expires_at = ms(d.expiresAt);
        if (g.extensions !== undefined) g.extensions += 1;
        return g.user_id;
      case 'grant.expired':
      case 'grant.revoked':
      case 'grant.relinquished':
      case 'grant.failed': {
        if (!g) return undefined;
        const status = e.action.slice('grant.'.length);
        g.status = status;
        g.ended_at = status === 'failed' ? e.at : ms(d.endedAt);
        g.ended_by = e.actorId;
        g.end_reason = str(d.endReason) ?? legacyEndReason(status, d);
        return g.user_id;
      }
      case 'grant.expiring':
      case 'grant.deprovisioned':
      case 'grant.revoke_failed':
      case 'credentials.read':
        return g?.user_id;
      // change no state; only whom they are about is checked
      case 'access.checked':
        return str(d.userId);
      case 'auth.failed':
      case 'policy.reloaded':
        return null;
      case 'token.issued': {
        const id = str(d.tokenId);
        const userId = str(d.userId);
        if (id === undefined) return undefined;
        tokens.set(id, {
          id,
          user_id: userId,
          label: strOrNull(d.label ?? null),
          created_at: e.at,
          expires_at: msOrNull(d.expiresAt ?? null),
          revoked_at: null,
          hash: str(d.fingerprint),
        });
        return userId;
      }
      // a sign-in session is a token too (server/identity/)
      case 'auth.signed_in': {
        const id = str(d.tokenId);
        const userId = str(d.userId);
        if (id === undefined) return userId;
        tokens.set(id, {
          id,
          user_id: userId,
          label: str(d.label),
          created_at: e.at,
          expires_at: ms(d.expiresAt),
          revoked_at: null,
          hash: str(d.fingerprint),
        });
        return userId;
      }
      case 'token.revoked':
      case 'auth.signed_out': {
        const t = tokens.get(str(d.tokenId) ?? '');
        if (t) t.revoked_at = e.at;
        return t?.user_id;
      }
      case 'user.disabled': {
        const revoked = Array.isArray(d.tokensRevoked) ? d.tokensRevoked : [];
        for (const id of revoked) {
          const t = typeof id === 'string' ? tokens.get(id) : undefined;
          if (t) t.revoked_at = e.at;
        }
        const userId = str(d.userId);
        if (userId === undefined) return undefined;
        // disabling someone never seen records them; disabling again keeps the first time
        const u = this.state.idpUsers.get(userId);
        if (u) u.disabled_at ??= e.at;
        else {
          const none = JSON.stringify([]);
          this.state.idpUsers.set(userId, {
            id: userId,
            issuer: null,
            subject: null,
            name: userId,
            email: null,
            groups: none,
            roles: none,
            last_sign_in_at: null,
            disabled_at: e.at,
          });
        }
        return userId;
      }
      case 'auth.device_approved': {
        const userId = str(d.userId);
        if (userId === undefined) return undefined;
        const list = (v: unknown) => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? JSON.stringify(v) : undefined);
        this.state.idpUsers.set(userId, {
          id: userId,
          issuer: strOrNull(d.issuer),
          subject: strOrNull(d.subject),
          name: str(d.name),
          email: strOrNull(d.email),
          groups: list(d.groups),
          roles: list(d.roles),
          last_sign_in_at: e.at,
          disabled_at: this.state.idpUsers.get(userId)?.disabled_at ?? null,
        });
        return userId;
      }
      default:
        return undefined;
    }
  }

  private addApproval(e: LogEvent, decision: 'approve' | 'deny', comment: unknown): void {
    const requestId = e.requestId!;
    this.state.approvals.set(approvalKey(requestId, e.actorId), {
      request_id: requestId,
      approver_id: e.actorId,
      decision,
      comment: strOrNull(comment ?? null),
      at: e.at,
    });
  }
}

/** end_reason for events written before endReason was recorded: the engine's fixed texts. */
function legacyEndReason(status: string, d: Record<string, unknown>): string | undefined {
  if (status === 'expired') return 'expired';
  if (status === 'relinquished') return 'relinquished by owner';
  if (status === 'revoked') return str(d.reason);
  const error = str(d.error);
  return error === undefined ? undefined : `provisioning failed: ${error}`;
}

/** Every state the events explain. */
export function replayState(events: Iterable<LogEvent>): ExpectedState {
  const replay = new StateReplay();
  for (const e of events) replay.apply(e);
  return replay.result();
}

/** The rows as they are, in their tables' shapes (tokens with `hash` as its SHA-256). */
export interface ActualState {
  requests: Iterable<RequestState>;
  approvals: Iterable<ApprovalState>;
  grants: Iterable<GrantState>;
  tokens: Iterable<TokenState>;
  idpUsers: Iterable<IdpUserState>;
}

/**
 * Every row the expected state does not explain: rows no event accounts for, rows the events
 * say exist but do not, and each column whose value differs from the log's.
 */
export function compareState(expected: ExpectedState, actual: ActualState): StateProblem[] {
  const problems: StateProblem[] = [...expected.subjects];
  const table = <T extends object>(name: StateTable, want: Map<string, Expected<T>>, rows: Iterable<T>, key: (row: T) => string) => {
    const seen = new Set<string>();
    for (const row of rows) {
      const id = key(row);
      seen.add(id);
      const exp = want.get(id);
      if (!exp) {
        problems.push({ table: name, id, kind: 'unexplained' });
        continue;
      }
      const columns: NonNullable<StateProblem['columns']> = [];
      for (const column of Object.keys(exp) as (keyof T & string)[]) {
        const e = exp[column] as Value | undefined;
        const a = row[column] as Value;
        if (e !== undefined && e !== a) columns.push({ column, expected: e, actual: a });
      }
      if (columns.length) problems.push({ table: name, id, kind: 'differs', columns });
    }
    for (const id of want.keys()) if (!seen.has(id)) problems.push({ table: name, id, kind: 'missing' });
  };
  table('requests', expected.requests, actual.requests, (r) => r.id);
  table('approvals', expected.approvals, actual.approvals, (a) => approvalKey(a.request_id, a.approver_id));
  table('grants', expected.grants, actual.grants, (g) => g.id);
  table('tokens', expected.tokens, actual.tokens, (t) => t.id);
  table('idp_users', expected.idpUsers, actual.idpUsers, (u) => u.id);
  return problems;
}
