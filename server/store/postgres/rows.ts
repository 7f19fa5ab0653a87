// Rows as PostgreSQL returns them (bigint already parsed to number by the pool's type parser,
// booleans as booleans) into domain records, and back where JSON text is involved.
import { evaluation, strings } from '../columns.js';
import type { ApprovalRecord, DeviceCode, GrantRecord, IdpUser, OidcLogin, OutboxRecord, RequestRecord, TokenRecord, UserRecord } from '../types.js';

export interface RequestRow {
  seq: number;
  id: string;
  kind: RequestRecord['kind'];
  requester_id: string;
  resource_id: string;
  role: string;
  duration_s: number;
  justification: string;
  ticket: string | null;
  status: RequestRecord['status'];
  grant_id: string | null;
  required: number;
  auto_approved: boolean;
  break_glass: boolean;
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
  revoke_pending: boolean;
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

export interface IdpUserRow {
  id: string;
  issuer: string | null;
  subject: string | null;
  name: string;
  email: string | null;
  groups: string;
  roles: string;
  last_sign_in_at: number | null;
  disabled_at: number | null;
}

export interface DeviceRow {
  id: string;
  status: DeviceCode['status'];
  user_id: string | null;
  denied_reason: string | null;
  interval_s: number;
  created_at: number;
  expires_at: number;
  last_polled_at: number | null;
  client_ip: string | null;
  client_name: string | null;
}

export interface LoginRow {
  device_id: string;
  browser_hash: Buffer;
  nonce: string;
  code_verifier: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
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
  autoApproved: r.auto_approved,
  breakGlass: r.break_glass,
  evaluation: evaluation(r.evaluation),
  createdAt: r.created_at,
  decidedAt: r.decided_at,
  pendingUntil: r.pending_until,
});

export const toApproval = (r: {
  request_id: string;
  approver_id: string;
  decision: ApprovalRecord['decision'];
  comment: string | null;
  at: number;
}): ApprovalRecord => ({
  requestId: r.request_id,
  approverId: r.approver_id,
  decision: r.decision,
  comment: r.comment,
  at: r.at,
});

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
  revokePending: r.revoke_pending,
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

export const toUser = (r: { id: string; name: string; groups: string; roles: string; active: boolean }): UserRecord => ({
  id: r.id,
  name: r.name,
  groups: strings(r.groups),
  roles: strings(r.roles),
  active: r.active,
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

export const toIdpUser = (r: IdpUserRow): IdpUser => ({
  id: r.id,
  issuer: r.issuer,
  subject: r.subject,
  name: r.name,
  email: r.email,
  groups: strings(r.groups),
  roles: strings(r.roles),
  lastSignInAt: r.last_sign_in_at,
  disabledAt: r.disabled_at,
});

export const toDevice = (r: DeviceRow): DeviceCode => ({
  id: r.id,
  status: r.status,
  userId: r.user_id,
  deniedReason: r.denied_reason,
  intervalS: r.interval_s,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  lastPolledAt: r.last_polled_at,
  clientIp: r.client_ip,
  clientName: r.client_name,
});

export const toLogin = (r: LoginRow): OidcLogin => ({
  deviceId: r.device_id,
  browserHash: r.browser_hash,
  nonce: r.nonce,
  codeVerifier: r.code_verifier,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  usedAt: r.used_at,
});
