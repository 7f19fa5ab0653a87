// One error shape for every failure: {"error": {"code", "message", "details"}}. Client mistakes
// are 4xx with a clear message; database unavailability is 503; only true bugs are 500.
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ZodError } from 'zod';
import { ApiError } from '../errors.js';
import { STORE_CONFLICT, STORE_UNAVAILABLE } from '../store/types.js';
import type { ErrorBody } from '../protocol/index.js';
import type { Logger } from '../logger.js';
import { errorFields } from '../logger.js';

export function errorResponse(c: Context, status: number, code: ErrorBody['error']['code'], message: string, details?: unknown[]) {
  const body: ErrorBody = { error: { code, message, ...(details && { details }) } };
  return c.json(body, status as 400);
}

export function zodDetails(error: ZodError, where: string): { path: string; message: string }[] {
  return error.issues.map((i) => ({
    path: [where, ...i.path.map(String)].filter(Boolean).join('.'),
    message: i.message,
  }));
}

/**
 * Storage failures that mean "cannot write right now", not "bug". SQLite: full disk, read-only,
 * I/O, busy, or a group commit's transaction that SQLite rolled back after one of those.
 * PostgreSQL: the connection failed or was refused (class 08, ECONNREFUSED/RESET), the server is
 * shutting down or starting (57P0x), out of resources (53xxx), a serialization failure or
 * deadlock that outlived its retries (40001, 40P01). A store marks its own such errors with
 * STORE_UNAVAILABLE.
 */
const UNAVAILABLE =
  /^(SQLITE_(FULL|READONLY|IOERR|BUSY|LOCKED|CANTOPEN|CORRUPT|NOTADB|PERM|ABORT_ROLLBACK)|08|57P0|53|40001|40P01|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT)/;

export function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === STORE_UNAVAILABLE || (typeof code === 'string' && UNAVAILABLE.test(code));
}

export function handleError(err: unknown, c: Context, logger: Logger) {
  if (err instanceof ApiError) return errorResponse(c, err.status, err.code, err.message, err.details);
  if (err instanceof HTTPException) {
    const status = err.status;
    if (status === 413) return errorResponse(c, 413, 'payload_too_large', 'request body is larger than 64 KiB');
    if (status === 401) return errorResponse(c, 401, 'unauthenticated', err.message || 'authentication required');
    if (status >= 400 && status < 500) {
      return errorResponse(c, 400, 'invalid_request', err.message || 'invalid request', [{ path: 'body', message: err.message }]);
    }
  }
  // another replica's change got there first and the database refused this one whole
  if ((err as { code?: unknown })?.code === STORE_CONFLICT) {
    return errorResponse(c, 409, 'conflict', 'a concurrent change got there first; nothing was changed, reload and try again');
  }
  if (isUnavailable(err)) {
    logger.log('error', 'storage unavailable', errorFields(err));
    return errorResponse(c, 503, 'unavailable', 'the audit log cannot be written right now; nothing was changed, try again later');
  }
  logger.log('error', 'unhandled error', { path: c.req.path, ...errorFields(err) });
  return errorResponse(c, 500, 'internal', 'internal error');
}
