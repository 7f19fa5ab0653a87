// Which PostgreSQL failures are not bugs, and what the caller sees of them:
//  - the database is unavailable right now (503): the connection refused, lost or reset, the
//    server shutting down or not yet accepting connections, too many connections, a database
//    that refuses writes (a hot standby after a failover, default_transaction_read_only).
//    Rethrown as STORE_UNAVAILABLE, the message scrubbed of the password.
//  - the change collided with a concurrent writer's (409): a unique key taken meanwhile, a
//    deadlock (PostgreSQL ended one of the two), a serialization failure. Rethrown as
//    STORE_CONFLICT; the whole transaction was rolled back.
import { STORE_CONFLICT, STORE_UNAVAILABLE } from '../types.js';
import { scrub } from './url.js';

const NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * SQLSTATE classes and codes: 08 connection exception, 57P01-03 shutdown / cannot connect now,
 * 53300 too many connections, 25006 read-only transaction (SQLite's SQLITE_READONLY is 503 too).
 */
const unavailableState = (code: string) =>
  code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300' || code === '25006';

/** pg's own messages when the socket went away (they carry no code). */
const LOST = /Connection terminated|connection error|not queryable|timeout exceeded when trying to connect|Client was closed/i;

export function isUnavailable(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  if (code === STORE_UNAVAILABLE) return true;
  if (typeof code === 'string') return NODE_CODES.has(code) || (/^[0-9A-Z]{5}$/.test(code) && unavailableState(code));
  return LOST.test(e.message);
}

/** unique_violation, serialization_failure, deadlock_detected */
const CONFLICTS = new Set(['23505', '40001', '40P01']);

/** `e` as the error the caller sees: STORE_UNAVAILABLE, STORE_CONFLICT (cause kept), anything else as it is. */
export function translate(e: unknown, password: string | undefined): unknown {
  const code = (e as { code?: unknown } | undefined)?.code;
  if (e instanceof Error && typeof code === 'string' && CONFLICTS.has(code)) {
    return Object.assign(new Error(`the change collided with a concurrent one and was not made: ${scrub(e.message, password)}`), {
      code: STORE_CONFLICT,
      cause: e,
    });
  }
  if (!isUnavailable(e) || code === STORE_UNAVAILABLE) return e;
  const reason = scrub(e instanceof Error ? e.message : String(e), password);
  return Object.assign(new Error(`the database is unavailable: ${reason}`), { code: STORE_UNAVAILABLE, cause: e });
}
