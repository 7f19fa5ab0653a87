// Reads what the state check (domain/stateReplay.ts) compares: the audit events that change
// state, in seq order, and every row of requests, approvals, grants and tokens. All of it in one
// read transaction, so the rows and the log are one snapshot even while the server writes
// (each change commits with its event, so a snapshot always agrees with itself).
// Synchronous on better-sqlite3 for now; this is the one module to port to another store.
import type { Database } from 'better-sqlite3';
import { sha256Hex } from '../crypto/sha256.js';
import { AuditLog, type ChainVerification } from './audit.js';
import {
  type ApprovalState,
  type GrantState,
  type IdpUserState,
  type LogEvent,
  type RequestState,
  type StateProblem,
  type TokenState,
  StateReplay,
  compareState,
} from '../domain/stateReplay.js';

/** What the state check found; `problems` lists every row the log does not explain. */
export interface StateCheck {
  ok: boolean;
  /** rows compared, per table */
  rows: { requests: number; approvals: number; grants: number; tokens: number; idpUsers: number };
  problems: StateProblem[];
}

/**
 * The actions that change requests, approvals, grants or tokens. Other events are read only in
 * format 1, whose subject_id is outside the hash and so checked against the log here.
 */
const STATE_ACTIONS = [
  'request.created',
  'request.approved',
  'request.approval_recorded',
  'request.denied',
  'request.cancelled',
  'request.expired',
  'grant.activated',
  'grant.extended',
  'grant.expired',
  'grant.revoked',
  'grant.relinquished',
  'grant.failed',
  'grant.expiring',
  'grant.deprovisioned',
  'grant.revoke_failed',
  'token.issued',
  'token.revoked',
  'auth.signed_in',
  'auth.signed_out',
  'user.disabled',
  'auth.device_approved',
];

type EventTuple = [number, number, string, string, string | null, string | null, string | null, string | null, string];

/** The chain verified and, when asked, the state checked, both on one snapshot. */
export interface AuditVerification extends ChainVerification {
  state?: StateCheck;
}

/** Verifies the chain (against `head` when given) and with `state` checks the state, in one read transaction. */
export function verifyAudit(db: Database, opts: { state?: boolean; head?: { seq?: number; hash: string } } = {}): AuditVerification {
  return db.transaction((): AuditVerification => {
    const chain = new AuditLog(db).verify(opts.head);
    return opts.state ? { ...chain, state: checkState(db) } : chain;
  })();
}

/** Replays the log and compares it with the rows; the caller's connection, read only. */
export function checkState(db: Database): StateCheck {
  return db.transaction((): StateCheck => {
    const replay = new StateReplay();
    const problems: StateProblem[] = [];
    const events = db
      .prepare(
        `SELECT seq, at, actor_id, action, resource_id, request_id, grant_id, subject_id, details FROM audit
         WHERE action IN (SELECT value FROM json_each(?)) OR v = 1 ORDER BY seq`,
      )
      .raw(true);
    for (const [seq, at, actorId, action, resourceId, requestId, grantId, subjectId, text] of events.iterate(
      JSON.stringify(STATE_ACTIONS),
    ) as IterableIterator<EventTuple>) {
      const details = parseDetails(text);
      if (details === undefined) {
        problems.push({
          table: 'audit',
          id: String(seq),
          kind: 'differs',
          columns: [{ column: 'details', expected: 'a JSON object', actual: text.slice(0, 200) }],
        });
        continue;
      }
      const e: LogEvent = { seq, at, actorId, action, resourceId, requestId, grantId, subjectId, details };
      replay.apply(e);
    }
    const requests = db.prepare('SELECT * FROM requests ORDER BY seq').all() as RequestState[];
    const approvals = db.prepare('SELECT * FROM approvals ORDER BY request_id, approver_id').all() as ApprovalState[];
    const grants = db.prepare('SELECT * FROM grants ORDER BY seq').all() as GrantState[];
    // the stored hash is compared by its SHA-256, the fingerprint token.issued records
    const tokens = (db.prepare('SELECT * FROM tokens ORDER BY created_at, id').all() as (Omit<TokenState, 'hash'> & { hash: Buffer })[]).map(
      (t): TokenState => ({ ...t, hash: sha256Hex(Buffer.isBuffer(t.hash) ? t.hash : String(t.hash)) }),
    );
    const idpUsers = db.prepare('SELECT * FROM idp_users ORDER BY id').all() as IdpUserState[];
    problems.push(...compareState(replay.result(), { requests, approvals, grants, tokens, idpUsers }));
    return {
      ok: problems.length === 0,
      rows: { requests: requests.length, approvals: approvals.length, grants: grants.length, tokens: tokens.length, idpUsers: idpUsers.length },
      problems,
    };
  })();
}

function parseDetails(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
