// The state check on PostgreSQL: replays the events that change state (domain/stateReplay.ts,
// pure) and compares the result with the rows, read in the caller's REPEATABLE READ snapshot
// so the log and the rows agree with each other even while replicas write. Rows are handed
// over in the SQLite shape the replay speaks (0/1 flags, JSON text, token hashes as SHA-256).
import { sha256Hex } from '../../crypto/sha256.js';
import { STATE_ACTIONS } from '../auditChain.js';
import {
  type ApprovalState,
  type GrantState,
  type IdpUserState,
  type RequestState,
  type StateProblem,
  type TokenState,
  StateReplay,
  compareState,
} from '../../domain/stateReplay.js';
import type { StateCheck } from '../types.js';
import { PAGE_ROWS } from './audit.js';
import { type Ctx, sql } from './sql.js';

const S = {
  events: sql(`SELECT seq, at, actor_id, action, resource_id, request_id, grant_id, subject_id, details FROM audit
    WHERE seq > $1 AND (action = ANY($2::text[]) OR v = 1) ORDER BY seq LIMIT $3`),
  requests: sql(`SELECT id, kind, requester_id, resource_id, role, duration_s, justification, ticket, status, grant_id, required,
      auto_approved::int AS auto_approved, break_glass::int AS break_glass, evaluation, created_at, decided_at, pending_until
    FROM requests ORDER BY seq`),
  approvals: sql('SELECT * FROM approvals ORDER BY request_id, approver_id'),
  grants: sql('SELECT * FROM grants ORDER BY seq'),
  tokens: sql('SELECT * FROM tokens ORDER BY created_at, id'),
  idpUsers: sql('SELECT * FROM idp_users ORDER BY id'),
};

type EventRow = {
  seq: number;
  at: number;
  actor_id: string;
  action: string;
  resource_id: string | null;
  request_id: string | null;
  grant_id: string | null;
  subject_id: string | null;
  details: string;
};

export async function checkState(c: Ctx): Promise<StateCheck> {
  const replay = new StateReplay();
  const problems: StateProblem[] = [];
  for (let after = Number.MIN_SAFE_INTEGER; ;) {
    const rows = await c.rows<EventRow>(S.events, [after, [...STATE_ACTIONS], PAGE_ROWS]);
    for (const r of rows) {
      const details = parseDetails(r.details);
      if (details === undefined) {
        problems.push({
          table: 'audit',
          id: String(r.seq),
          kind: 'differs',
          columns: [{ column: 'details', expected: 'a JSON object', actual: r.details.slice(0, 200) }],
        });
        continue;
      }
      replay.apply({
        seq: r.seq,
        at: r.at,
        actorId: r.actor_id,
        action: r.action,
        resourceId: r.resource_id,
        requestId: r.request_id,
        grantId: r.grant_id,
        subjectId: r.subject_id,
        details,
      });
    }
    if (rows.length < PAGE_ROWS) break;
    after = rows[rows.length - 1].seq;
  }
  const requests = await c.rows<RequestState>(S.requests);
  const approvals = await c.rows<ApprovalState>(S.approvals);
  const grants = await c.rows<GrantState>(S.grants);
  // the stored hash is compared by its SHA-256, the fingerprint token.issued records
  const tokens = (await c.rows<Omit<TokenState, 'hash'> & { hash: Buffer }>(S.tokens)).map((t): TokenState => ({ ...t, hash: sha256Hex(t.hash) }));
  const idpUsers = await c.rows<IdpUserState>(S.idpUsers);
  problems.push(...compareState(replay.result(), { requests, approvals, grants, tokens, idpUsers }));
  return {
    ok: problems.length === 0,
    rows: { requests: requests.length, approvals: approvals.length, grants: grants.length, tokens: tokens.length, idpUsers: idpUsers.length },
    problems,
  };
}

function parseDetails(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
