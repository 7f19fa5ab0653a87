// The inputs only the server parses: query strings, path parameters, and the bodies of decisions,
// revocations and extensions. Kept apart from ./index.ts, which the extension imports, so the
// extension's bundle does not build schemas it never uses (~4 KB, with the zod types only these
// need: coerced numbers, ISO date-times). Request bodies the extension checks itself
// (CreateRequestBody) stay in ./index.ts. Imports only zod and ./index.ts.
import * as z from 'zod';
import { GrantStatus, RequestStatus, id, text } from './index.js';

export const DryRunQuery = z.object({ dryRun: z.enum(['true', 'false']).optional() });

export const ApproveBody = z.strictObject({ comment: text('comment').optional() });
export const DenyBody = z.strictObject({
  reason: text('reason').refine((s) => s.trim().length > 0, 'reason is required'),
});
export const RevokeBody = DenyBody;
export const ExtendBody = z.strictObject({
  durationSeconds: z
    .number()
    .int()
    .positive()
    .max(10 * 365 * 24 * 3600),
  justification: text('justification').optional(),
});
export type ExtendBody = z.infer<typeof ExtendBody>;

export const ListRequestsQuery = z.object({
  scope: z.enum(['mine', 'reviewable']).default('mine'),
  status: RequestStatus.optional(),
});

export const ListGrantsQuery = z.object({
  scope: z.enum(['mine', 'all']).default('mine'),
  status: GrantStatus.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().max(200).optional(),
});

export const CheckQuery = z.object({ userId: id, resourceId: id, role: id });

export const AuditQuery = z.object({
  actorId: id.optional(),
  resourceId: id.optional(),
  action: z.string().max(100).optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(200).optional(),
});

export const IdParam = z.object({ id });

export const AuditVerifyQuery = z.object({
  /** also re-derive requests, approvals, grants and tokens from the log and compare */
  state: z.enum(['true', 'false']).optional(),
});
