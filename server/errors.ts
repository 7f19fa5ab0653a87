// The one error type the engine throws and the HTTP layer turns into
// {"error": {"code", "message", "details"}} with its status.
import type { ErrorCode } from './protocol/index.js';

const statusOf: Record<ErrorCode, number> = {
  invalid_request: 400,
  unauthenticated: 401,
  forbidden: 403,
  self_approval: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  policy_violation: 422,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
};

export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown[],
  ) {
    super(message);
    this.status = statusOf[code];
  }
}

export const notFound = (what: string, id: string) => new ApiError('not_found', `${what} ${id} not found`);
export const forbidden = (message: string) => new ApiError('forbidden', message);
export const conflict = (message: string) => new ApiError('conflict', message);
export const policyViolation = (reasons: string[]) => new ApiError('policy_violation', reasons.join('; '), reasons);
