// Helpers for declaring routes once: the same zod schemas validate input and document the API.
import type { ZodType } from 'zod';
import { ErrorBody } from '../protocol/index.js';

export const json = <T extends ZodType>(schema: T, description: string) => ({
  content: { 'application/json': { schema } },
  description,
});

export const body = <T extends ZodType>(schema: T, required = true) => ({
  content: { 'application/json': { schema } },
  required,
});

const err = (description: string) => json(ErrorBody, description);

/** The error responses every authenticated route can give. */
export const errors = {
  400: err('invalid_request: a field is missing or malformed (details name each one)'),
  401: err('unauthenticated'),
  403: err('forbidden / self_approval'),
  404: err('not_found: the id does not exist or is not visible to the caller'),
  409: err('conflict: wrong state'),
  413: err('payload_too_large'),
  422: err('policy_violation'),
  429: err('rate_limited'),
  503: err('unavailable: the audit log cannot be written'),
} as const;

export const security = [{ bearer: [] as string[] }];
