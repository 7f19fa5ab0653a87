// The SQLite tables' row shapes (snake_case, 0/1 flags, JSON as text) and their mapping to the
// domain records of server/store/types.ts. Nothing outside server/store/sqlite/ sees a row.
import { evaluation, requestValues, strings } from '../columns.js';
import type { GrantRecord, OutboxRecord, RequestRecord, TokenRecord, UserRecord, NewRequest } from '../types.js';

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
  status: RequestRecord['status'];
  grant_id: string | null;
  required: number;
  auto_approved: number;
  break_glass: number;
  evaluation: string;
  created_at: number;
  decided_at: number | null;
  pending_until: number;
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
  status: GrantRecord['status'];
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

export const toRequest = (r: RequestRow): RequestRecord => ({
  seq: r.seq,
  id: r.id,
  kind: r.kind,
  requesterId: r.requester_id,
  resourceId: r.resource_id,
  role: r.role,
  durationS: r.duration_s,
  justification: r.justification,
  ticket: r.ticket,
  status: r.status,
  grantId: r.grant_id,
  required: r.required,
  autoApproved: r.auto_approved === 1,
  breakGlass: r.break_glass === 1,
  evaluation: evaluation(r.evaluation),
  createdAt: r.created_at,
  decidedAt: r.decided_at,
  pendingUntil: r.pending_until,
});

/** A new request's values for the INSERT's placeholders (by position: binding by name looks each one up). */
export const requestParams = (r: NewRequest): unknown[] => requestValues(r, (b) => (b ? 1 : 0));

export const toGrant = (r: GrantRow): GrantRecord => ({
  seq: r.seq,
  id: r.id,
  requestId: r.request_id,
  userId: r.user_id,
  resourceId: r.resource_id,
  role: r.role,
  startsAt: r.starts_at,
  expiresAt: r.expires_at,
  maxExpiresAt: r.max_expires_at,
  status: r.status,
  extensions: r.extensions,
  revokePending: r.revoke_pending === 1,
  endedAt: r.ended_at,
  endedBy: r.ended_by,
  endReason: r.end_reason,
  warned: r.warned,
});

export const toToken = (r: TokenRow): TokenRecord => ({
  id: r.id,
  userId: r.user_id,
  hash: r.hash,
  label: r.label,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
  lastUsedAt: r.last_used_at,
});

export const toOutbox = (r: OutboxRow): OutboxRecord => ({
  id: r.id,
  kind: r.kind,
  grantId: r.grant_id,
  payload: JSON.parse(r.payload) as unknown,
  createdAt: r.created_at,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  lastError: r.last_error,
  doneAt: r.done_at,
});

export const toUser = (r: UserRow): UserRecord => ({
  id: r.id,
  name: r.name,
  groups: strings(r.groups),
  roles: strings(r.roles),
  active: r.active === 1,
});
