// Which PostgreSQL failures mean "the database is unavailable right now" (the server answers 503)
// rather than a bug: the connection refused, lost or reset, the server shutting down or not yet
// accepting connections, too many connections. They are rethrown as STORE_UNAVAILABLE errors
// whose message never holds the password.
import { STORE_UNAVAILABLE } from '../types.js';
import { scrub } from './url.js';

const NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** SQLSTATE classes and codes: 08 connection exception, 57P01-03 shutdown / cannot connect now, 53300 too many connections. */
const unavailableState = (code: string) => code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300';

/** pg's own messages when the socket went away (they carry no code). */
const LOST = /Connection terminated|connection error|not queryable|timeout exceeded when trying to connect|Client was closed/i;

export function isUnavailable(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  if (code === STORE_UNAVAILABLE) return true;
  if (typeof code === 'string') return NODE_CODES.has(code) || (/^[0-9A-Z]{5}$/.test(code) && unavailableState(code));
  return LOST.test(e.message);
}

/** `e` as the error the caller sees: unavailability as STORE_UNAVAILABLE (cause kept), anything else as it is. */
export function translate(e: unknown, password: string | undefined): unknown {
  if (!isUnavailable(e) || (e as { code?: unknown }).code === STORE_UNAVAILABLE) return e;
  const reason = scrub(e instanceof Error ? e.message : String(e), password);
  return Object.assign(new Error(`the database is unavailable: ${reason}`), { code: STORE_UNAVAILABLE, cause: e });
}
