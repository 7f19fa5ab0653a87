// The wire protocol of Elevate's HTTP API: zod schemas and the types inferred from them.
// Shared by the server (validation + OpenAPI) and the extension (typed client). Imports only zod,
// so the extension bundle never pulls in server runtime code.
import * as z from 'zod';

export const MAX_TEXT = 2000;
export const MAX_BODY_BYTES = 64 * 1024;

/** Free text from a client (shared with ./inputs.ts). */
export const text = (name: string) =>
  z
    .string()
    .max(MAX_TEXT, `${name} must be at most ${MAX_TEXT} characters`)
    .refine((s) => !s.includes('\u0000'), `${name} must not contain NUL characters`);

/** An id from a client (shared with ./inputs.ts). */
export const id = z
  .string()
  .min(1)
  .max(200)
  .refine((s) => !s.includes('\u0000'), 'must not contain NUL characters');

/** ISO-8601 UTC with milliseconds, e.g. 2026-11-23T17:01:16.123Z */
export const isoTime = z.string();

export const requestStatuses = ['pending', 'approved', 'denied', 'cancelled', 'expired'] as const;
export const grantStatuses = ['active', 'expired', 'revoked', 'relinquished', 'failed'] as const;
export const userRoles = ['admin', 'auditor', 'service'] as const;

export const RequestStatus = z.enum(requestStatuses);
export const GrantStatus = z.enum(grantStatuses);
export const UserRole = z.enum(userRoles);

// ---------- inputs ----------

export const CreateRequestBody = z.strictObject({
  resourceId: id,
  role: id,
  durationSeconds: z
    .number()
    .int()
    .positive()
    .max(10 * 365 * 24 * 3600),
  justification: text('justification').refine((s) => s.trim().length > 0, 'justification is required'),
  ticket: text('ticket').optional(),
  breakGlass: z.boolean().optional(),
  /** who made it on the user's behalf: "agent" for a coding agent's language-model tool (kept in the audit log) */
  via: z.enum(['agent']).optional(),
});
export type CreateRequestBody = z.infer<typeof CreateRequestBody>;

// What only the server parses (queries, path parameters, decision and extension bodies) is in
// ./inputs.ts: the extension imports this module and need not build those schemas.
export type { ExtendBody } from './inputs.js';

// ---------- entities ----------

export const Approval = z.object({
  approverId: z.string(),
  decision: z.enum(['approve', 'deny']),
  comment: z.string().nullable(),
  at: isoTime,
});
export type Approval = z.infer<typeof Approval>;

export const Evaluation = z.object({
  /** index into the resource's approval.autoApprove list of the rule that matched */
  autoApproveRule: z.number().int().optional(),
  reasons: z.array(z.string()),
});

export const AccessRequest = z.object({
  id: z.string(),
  requesterId: z.string(),
  resourceId: z.string(),
  role: z.string(),
  durationSeconds: z.number().int(),
  justification: z.string(),
  ticket: z.string().nullable(),
  status: RequestStatus,
  kind: z.enum(['access', 'extension']),
  /** the grant this request produced (access) or extends (extension) */
  grantId: z.string().optional(),
  approvals: z.array(Approval),
  /** distinct approvals needed */
  requiredApprovals: z.number().int(),
  autoApproved: z.boolean(),
  breakGlass: z.boolean(),
  evaluation: Evaluation,
  createdAt: isoTime,
  decidedAt: isoTime.nullable(),
  /** when a still-pending request becomes "expired" */
  pendingUntil: isoTime,
});
export type AccessRequest = z.infer<typeof AccessRequest>;

export const Grant = z.object({
  id: z.string(),
  requestId: z.string(),
  userId: z.string(),
  resourceId: z.string(),
  role: z.string(),
  startsAt: isoTime,
  expiresAt: isoTime,
  /** startsAt + extension.maxTotal: no extension can reach past this */
  maxExpiresAt: isoTime,
  status: GrantStatus,
  /** number of extensions applied */
  extensions: z.number().int(),
  /**
   * seconds added to this grant without an approver so far: `extension.withoutApproval` is a
   * budget per grant (rules.ts extendsAtOnce). Kept up to date for active grants; 0 from servers
   * that predate it.
   */
  addedWithoutApprovalSeconds: z.number().int().nonnegative().default(0),
  revokePending: z.boolean(),
  endedAt: isoTime.optional(),
  /** user id, or "system" for expiry/policy */
  endedBy: z.string().optional(),
  endReason: z.string().optional(),
});
export type Grant = z.infer<typeof Grant>;

export const AutoApproveRuleView = z.object({
  roles: z.array(z.string()),
  maxDurationSeconds: z.number().int(),
  groups: z.array(z.string()).optional(),
  window: z.string().optional(),
});

/**
 * Where a resource lives, so the editor can tell which resource a refused command was about
 * (issue 15). Used only for matching in the editor; the policy validates them strictly
 * (server/domain/policy.ts), the view reads them loosely so a newer server's extra kinds do not
 * break an older extension.
 */
export const ResourceHints = z.object({
  /** host names or addresses; "*.prod.internal" matches any host under prod.internal */
  hosts: z.array(z.string()).optional(),
  /** database names */
  databases: z.array(z.string()).optional(),
  /** kubectl context names */
  kubeContexts: z.array(z.string()).optional(),
  /** 12-digit AWS account ids */
  awsAccounts: z.array(z.string()).optional(),
  /** http(s) URLs; a trailing "*" matches any URL starting with the rest */
  urls: z.array(z.string()).optional(),
});
export type ResourceHints = z.infer<typeof ResourceHints>;

export const ResourceView = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string(),
  roles: z.array(z.string()),
  maxDurationSeconds: z.number().int(),
  defaultDurationSeconds: z.number().int(),
  requireTicket: z.boolean(),
  breakGlass: z.boolean(),
  pendingTtlSeconds: z.number().int(),
  approval: z.object({
    required: z.number().int(),
    approvers: z.array(z.string()),
    autoApprove: z.array(AutoApproveRuleView),
  }),
  extension: z.object({ maxTotalSeconds: z.number().int(), withoutApprovalSeconds: z.number().int() }),
  hints: ResourceHints.optional(),
  /**
   * Who sets access up on the target system (absent from older servers: read as "none"). With a
   * provider, a new grant is ready once `grant.provisioned` (or failed once `grant.failed`) arrives,
   * and it may come with credentials for its owner.
   */
  provider: z.object({ type: z.string() }).optional(),
});
export type ResourceView = z.infer<typeof ResourceView>;

export const Me = z.object({
  user: z.object({
    id: z.string(),
    name: z.string(),
    groups: z.array(z.string()),
    roles: z.array(UserRole),
    approverOf: z.array(z.string()),
  }),
});
export type Me = z.infer<typeof Me>;

export const AuditEvent = z.object({
  seq: z.number().int(),
  at: isoTime,
  actorId: z.string(),
  action: z.string(),
  resourceId: z.string().optional(),
  requestId: z.string().optional(),
  grantId: z.string().optional(),
  /** format 2 only: whom the event is about (it decides who may see it), under the hash */
  subjectId: z.string().optional(),
  /** the hash format: 2 hashes subjectId and v as well; absent for format 1 */
  v: z.number().int().optional(),
  details: z.record(z.string(), z.unknown()),
  prevHash: z.string(),
  hash: z.string(),
});
export type AuditEvent = z.infer<typeof AuditEvent>;

// ---------- responses ----------

export const ResourcesResponse = z.object({ resources: z.array(ResourceView) });
export const RequestResponse = z.object({ request: AccessRequest, grant: Grant.optional() });
export const RequestDetailResponse = z.object({
  request: AccessRequest,
  requesterHistory: z.array(AccessRequest).optional(),
});
export const RequestsResponse = z.object({ requests: z.array(AccessRequest) });
export const DryRunResponse = z.object({
  evaluation: z.object({
    allowed: z.boolean(),
    autoApproved: z.boolean(),
    autoApproveRule: z.number().int().optional(),
    reasons: z.array(z.string()),
  }),
});
export const GrantsResponse = z.object({
  grants: z.array(Grant),
  nextCursor: z.string().nullable(),
  serverTime: isoTime,
});
export const GrantResponse = z.object({ grant: Grant, serverTime: isoTime.optional() });
export const CredentialsResponse = z.object({
  grantId: z.string(),
  expiresAt: isoTime,
  /** e.g. PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE for type postgres */
  credentials: z.record(z.string(), z.string()),
});
export type CredentialsResponse = z.infer<typeof CredentialsResponse>;

export const CheckResponse = z.object({
  allowed: z.boolean(),
  grantId: z.string().optional(),
  expiresAt: isoTime.optional(),
});
export const AuditResponse = z.object({ events: z.array(AuditEvent), nextCursor: z.string().nullable() });
export const StateProblem = z.object({
  table: z.enum(['requests', 'approvals', 'grants', 'tokens', 'idp_users', 'audit']),
  /** the row's id; approvals "requestId/approverId"; audit the event's seq */
  id: z.string(),
  kind: z.enum(['unexplained', 'missing', 'differs']),
  columns: z
    .array(z.object({ column: z.string(), expected: z.union([z.string(), z.number(), z.null()]), actual: z.union([z.string(), z.number(), z.null()]) }))
    .optional(),
});
export const AuditVerifyResponse = z.object({
  /** false when the chain is broken or (with ?state=true) a row is not explained by the log */
  ok: z.boolean(),
  count: z.number().int(),
  headHash: z.string(),
  firstBadSeq: z.number().int().optional(),
  state: z
    .object({
      ok: z.boolean(),
      rows: z.object({
        requests: z.number().int(),
        approvals: z.number().int(),
        grants: z.number().int(),
        tokens: z.number().int(),
        idpUsers: z.number().int(),
      }),
      problemCount: z.number().int(),
      /** the first 1,000 problems (`audit verify --state` on the host lists them all) */
      problems: z.array(StateProblem),
    })
    .optional(),
});

export const errorCodes = [
  'invalid_request',
  'unauthenticated',
  'forbidden',
  'self_approval',
  'not_found',
  'conflict',
  'payload_too_large',
  'policy_violation',
  'rate_limited',
  'unavailable',
  'internal',
] as const;
export type ErrorCode = (typeof errorCodes)[number];
export const ErrorBody = z.object({
  error: z.object({
    code: z.enum(errorCodes),
    message: z.string(),
    details: z.array(z.unknown()).optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

// ---------- live events (SSE) ----------

export const sseEventTypes = [
  'request.created',
  'request.approved',
  'request.denied',
  'request.cancelled',
  'request.expired',
  'grant.activated',
  'grant.extended',
  'grant.expiring',
  'grant.expired',
  'grant.revoked',
  'grant.relinquished',
  'grant.failed',
  /** the provider confirmed the grant's access on the target system (resources with a provider) */
  'grant.provisioned',
  'grant.revoke_failed',
  'policy.reloaded',
] as const;
export type SseEventType = (typeof sseEventTypes)[number];

export const LiveEvent = z.object({
  type: z.enum(sseEventTypes),
  at: isoTime,
  request: AccessRequest.optional(),
  grant: Grant.optional(),
  /** grant.expiring: seconds left when the warning was raised (300 or 60) */
  secondsLeft: z.number().int().optional(),
});
export type LiveEvent = z.infer<typeof LiveEvent>;
