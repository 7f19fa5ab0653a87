import type { ErrorCode } from '../../server/protocol';

/** Codes the client adds to the server's own for failures that never reached a server answer. */
export type ClientErrorCode = 'network' | 'timeout' | 'invalid_response' | 'bad_url';

/**
 * The one error type of the API client. For server errors it carries the server's
 * `{error: {code, message, details}}` as is; `status` is 0 when no HTTP answer arrived.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: ErrorCode | ClientErrorCode,
    message: string,
    readonly details: readonly unknown[] = [],
  ) {
    super(message);
  }

  /** The token is missing, wrong, expired or revoked: the user has to sign in again. */
  get isUnauthenticated(): boolean {
    return this.status === 401;
  }

  /** The server could not be reached at all (as opposed to answering with an error). */
  get isUnreachable(): boolean {
    return this.code === 'network' || this.code === 'timeout' || this.status === 502 || this.status === 503 || this.status === 504;
  }

  /** Text for the user: the server's message, plus field details for invalid input. */
  get userMessage(): string {
    const extra = this.details
      .map((d) => (d && typeof d === 'object' && 'message' in d ? String((d as { message: unknown }).message) : typeof d === 'string' ? d : ''))
      .filter(Boolean);
    return extra.length && this.code === 'invalid_request' ? `${this.message} (${extra.join('; ')})` : this.message;
  }
}

/** Any thrown value as a message fit for the log or a notification. */
export const errorMessage = (e: unknown): string => (e instanceof ApiError ? e.userMessage : e instanceof Error ? e.message : String(e));
