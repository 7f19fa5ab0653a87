// Typed client of the Elevate HTTP API. Every response is parsed with the protocol's zod schemas;
// every failure becomes an ApiError. The token is attached only to URLs of the configured
// origin, and redirects are refused so it never follows one elsewhere.
import type { z } from 'zod';
import {
  AuditResponse,
  CredentialsResponse,
  DryRunResponse,
  ErrorBody,
  GrantResponse,
  GrantsResponse,
  Me,
  RequestDetailResponse,
  RequestResponse,
  RequestsResponse,
  ResourcesResponse,
  type AccessRequest,
  type CreateRequestBody,
  type Grant,
} from '../../server/protocol';
import { ApiError } from './errors';
import { LogoutResponse } from '../../server/protocol/auth';

export type FetchFn = typeof fetch;

export interface ClientOptions {
  /** Base URL of the server; only its origin is used. */
  serverUrl: string;
  token: string;
  fetch?: FetchFn;
  /** Per-request time limit (the event stream has none). */
  timeoutMs?: number;
  /** Local clock (ms), for measuring round trips when estimating the server clock. */
  now?: () => number;
}

export type Scope = 'mine' | 'reviewable';

export interface AuditFilter {
  actorId?: string;
  resourceId?: string;
  action?: string;
  from?: string;
  to?: string;
  limit?: number;
  cursor?: string;
}

/** A server time sample: the server's clock and the local midpoint of the round trip. */
export interface TimeSample {
  serverTime: string;
  localMidpoint: number;
  roundTripMs: number;
}

export type ExtendResult = { kind: 'applied'; grant: Grant } | { kind: 'pending'; request: AccessRequest };

/** Parses a server URL and returns its origin, or throws ApiError('bad_url'). */
export function originOf(serverUrl: string): string {
  let url: URL;
  try {
    url = new URL(serverUrl.trim());
  } catch {
    throw new ApiError(0, 'bad_url', `"${serverUrl}" is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ApiError(0, 'bad_url', `"${serverUrl}" must start with http:// or https://`);
  }
  return url.origin;
}

/**
 * Checks that `origin` is an Elevate server (its `/healthz`, which needs no token) before anyone
 * pastes a token for it. Undefined when it is; else what is wrong, in words for people.
 */
export async function probeServer(origin: string, fetchFn: FetchFn = fetch, timeoutMs = 5000): Promise<string | undefined> {
  let res: Response;
  try {
    res = await fetchFn(new URL('/healthz', origin), { redirect: 'error', signal: AbortSignal.timeout(timeoutMs) });
  } catch {
    return `Cannot reach ${origin}: is the server running, and is the URL right?`;
  }
  let json: unknown;
  try {
    json = await res.json();
  } catch {
    json = undefined;
  }
  const ok = typeof json === 'object' && json !== null && (json as { ok?: unknown }).ok === true;
  return res.ok && ok ? undefined : `${origin} answers, but it is not an Elevate server.`;
}

export class ElevateClient {
  readonly origin: string;
  private readonly token: string;
  private readonly fetchFn: FetchFn;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(opts: ClientOptions) {
    this.origin = originOf(opts.serverUrl);
    this.token = opts.token;
    this.fetchFn = opts.fetch ?? ((input, init) => fetch(input, init));
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.now = opts.now ?? Date.now;
  }

  /** True when this client was made with that token (to avoid reconnecting needlessly). */
  usesToken(token: string): boolean {
    return this.token === token;
  }

  /** Ends this sign-in session on the server (409 for an API token, which is not a session). */
  async logout(): Promise<void> {
    await this.call(LogoutResponse, 'POST', '/v1/auth/logout');
  }

  /** Builds a URL on the configured origin; anything that would leave it is refused. */
  url(path: string, query?: Record<string, string | number | boolean | undefined>): URL {
    const url = new URL(path, this.origin + '/');
    if (url.origin !== this.origin) throw new ApiError(0, 'bad_url', `refusing to send the token to ${url.origin}`);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    return url;
  }

  private async call<S extends z.ZodType>(
    schema: S,
    method: 'GET' | 'POST',
    path: string,
    opts: { query?: Record<string, string | number | boolean | undefined>; body?: unknown; timeSample?: (s: TimeSample) => void } = {},
  ): Promise<{ data: z.output<S>; status: number }> {
    const url = this.url(path, opts.query);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    const started = this.now();
    let res: Response;
    try {
      res = await this.fetchFn(url, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          accept: 'application/json',
          ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
        redirect: 'error',
        signal: controller.signal,
      });
    } catch (err) {
      clearTimeout(timer);
      if (controller.signal.aborted) throw new ApiError(0, 'timeout', `${this.origin} did not answer within ${Math.round(this.timeoutMs / 1000)} s`);
      const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
      throw new ApiError(0, 'network', `cannot reach ${this.origin}${cause}`);
    }
    let json: unknown;
    try {
      const text = await res.text();
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    } finally {
      clearTimeout(timer);
    }
    const ended = this.now();
    if (!res.ok) {
      const body = ErrorBody.safeParse(json);
      if (body.success) throw new ApiError(res.status, body.data.error.code, body.data.error.message, body.data.error.details ?? []);
      // no Elevate error body: whatever answered is not (this version of) an Elevate server
      throw new ApiError(
        res.status,
        res.status === 401 ? 'unauthenticated' : res.status >= 500 ? 'unavailable' : 'invalid_response',
        res.status === 404
          ? `${this.origin} is not an Elevate server (it has no ${url.pathname})`
          : `${this.origin} answered ${method} ${url.pathname} with HTTP ${res.status}`,
      );
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const where = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
      throw new ApiError(res.status, 'invalid_response', `unexpected response from ${method} ${url.pathname}: ${where.join('; ')}`);
    }
    const data = parsed.data as z.output<S>;
    const serverTime = (data as { serverTime?: unknown }).serverTime;
    if (opts.timeSample && typeof serverTime === 'string') opts.timeSample({ serverTime, localMidpoint: (started + ended) / 2, roundTripMs: ended - started });
    return { data, status: res.status };
  }

  async me() {
    return (await this.call(Me, 'GET', '/v1/me')).data.user;
  }

  async resources() {
    return (await this.call(ResourcesResponse, 'GET', '/v1/resources')).data.resources;
  }

  async createRequest(body: CreateRequestBody) {
    return (await this.call(RequestResponse, 'POST', '/v1/requests', { body })).data;
  }

  async dryRun(body: CreateRequestBody) {
    return (await this.call(DryRunResponse, 'POST', '/v1/requests', { body, query: { dryRun: 'true' } })).data.evaluation;
  }

  async listRequests(scope: Scope, status?: AccessRequest['status']) {
    return (await this.call(RequestsResponse, 'GET', '/v1/requests', { query: { scope, status } })).data.requests;
  }

  async getRequest(id: string) {
    return (await this.call(RequestDetailResponse, 'GET', `/v1/requests/${encodeURIComponent(id)}`)).data;
  }

  async approve(id: string, comment?: string) {
    return (await this.call(RequestResponse, 'POST', `/v1/requests/${encodeURIComponent(id)}/approve`, { body: comment ? { comment } : {} })).data;
  }

  async deny(id: string, reason: string) {
    return (await this.call(RequestResponse, 'POST', `/v1/requests/${encodeURIComponent(id)}/deny`, { body: { reason } })).data.request;
  }

  async cancel(id: string) {
    return (await this.call(RequestResponse, 'POST', `/v1/requests/${encodeURIComponent(id)}/cancel`, { body: {} })).data.request;
  }

  async listGrants(opts: { scope?: 'mine' | 'all'; status?: Grant['status']; limit?: number; cursor?: string } = {}, timeSample?: (s: TimeSample) => void) {
    return (
      await this.call(GrantsResponse, 'GET', '/v1/grants', {
        query: { scope: opts.scope ?? 'mine', status: opts.status, limit: opts.limit, cursor: opts.cursor },
        timeSample,
      })
    ).data;
  }

  async getGrant(id: string, timeSample?: (s: TimeSample) => void) {
    return (await this.call(GrantResponse, 'GET', `/v1/grants/${encodeURIComponent(id)}`, { timeSample })).data.grant;
  }

  async extend(id: string, durationSeconds: number, justification?: string): Promise<ExtendResult> {
    const body = justification ? { durationSeconds, justification } : { durationSeconds };
    const { data, status } = await this.call(RequestResponse.partial().or(GrantResponse), 'POST', `/v1/grants/${encodeURIComponent(id)}/extend`, { body });
    if (status === 202 && 'request' in data && data.request) return { kind: 'pending', request: data.request };
    if ('grant' in data && data.grant) return { kind: 'applied', grant: data.grant };
    throw new ApiError(status, 'invalid_response', 'unexpected response from extend');
  }

  /** The credentials a provider issued for my active grant (409 until provisioning finishes). Never log them. */
  async credentials(id: string) {
    return (await this.call(CredentialsResponse, 'GET', `/v1/grants/${encodeURIComponent(id)}/credentials`)).data;
  }

  async relinquish(id: string) {
    return (await this.call(GrantResponse, 'POST', `/v1/grants/${encodeURIComponent(id)}/relinquish`, { body: {} })).data.grant;
  }

  async revoke(id: string, reason: string) {
    return (await this.call(GrantResponse, 'POST', `/v1/grants/${encodeURIComponent(id)}/revoke`, { body: { reason } })).data.grant;
  }

  async audit(filter: AuditFilter = {}) {
    return (await this.call(AuditResponse, 'GET', '/v1/audit', { query: { ...filter } })).data;
  }

  /** Opens the event stream; the caller reads and parses the body. */
  async openEvents(lastEventId: string | undefined, signal: AbortSignal): Promise<Response> {
    const url = this.url('/v1/events');
    try {
      return await this.fetchFn(url, {
        headers: {
          authorization: `Bearer ${this.token}`,
          accept: 'text/event-stream',
          'cache-control': 'no-cache',
          ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
        },
        redirect: 'error',
        signal,
      });
    } catch (err) {
      if (signal.aborted) throw err;
      throw new ApiError(0, 'network', `cannot reach ${this.origin}`);
    }
  }

  /** Turns a non-2xx event-stream answer into the same ApiError as any other call. */
  static async errorOf(res: Response): Promise<ApiError> {
    let json: unknown;
    try {
      json = await res.json();
    } catch {
      json = undefined;
    }
    const body = ErrorBody.safeParse(json);
    return body.success
      ? new ApiError(res.status, body.data.error.code, body.data.error.message, body.data.error.details ?? [])
      : new ApiError(res.status, res.status === 401 ? 'unauthenticated' : 'unavailable', `HTTP ${res.status}`);
  }
}
