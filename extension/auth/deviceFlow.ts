// The editor's side of sign-in through the company's identity provider: what the server offers
// (GET /v1/auth/config), a device code (POST /v1/auth/device), then polling POST /v1/auth/token as
// RFC 8628 says (authorization_pending: wait; slow_down: wait 5 s longer from now on;
// expired_token / access_denied: stop with the reason). No vscode here: tested with a fake fetch.
import { AuthConfigResponse, DEVICE_GRANT_TYPE, DeviceAuthorizationResponse, DeviceTokenError, DeviceTokenResponse } from '../../server/protocol/auth';
import { ApiError } from '../api/errors';

export type FetchFn = typeof fetch;

export interface DeviceFlowOptions {
  fetch?: FetchFn;
  /** waits ms unless the signal aborts first (tests pass one that resolves at once) */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  timeoutMs?: number;
}

const realSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/** The sign-in was cancelled by the user (the notification's Cancel). */
export class SignInCancelled extends Error {
  constructor() {
    super('sign-in cancelled');
  }
}

export class DeviceFlow {
  private readonly fetchFn: FetchFn;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly timeoutMs: number;

  /** `origin`: the server, already checked by originOf(); nothing here is sent anywhere else. */
  constructor(
    readonly origin: string,
    o: DeviceFlowOptions = {},
  ) {
    this.fetchFn = o.fetch ?? ((input, init) => fetch(input, init));
    this.sleep = o.sleep ?? realSleep;
    this.timeoutMs = o.timeoutMs ?? 15_000;
  }

  private async post(path: string, form: Record<string, string>): Promise<{ status: number; json: unknown }> {
    return this.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams(form).toString(),
    });
  }

  private async request(path: string, init: RequestInit): Promise<{ status: number; json: unknown }> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    let res: Response;
    try {
      res = await this.fetchFn(`${this.origin}${path}`, { ...init, redirect: 'error', signal });
    } catch (err) {
      if (signal.aborted) throw new ApiError(0, 'timeout', `${this.origin} did not answer within ${Math.round(this.timeoutMs / 1000)} s`);
      throw new ApiError(0, 'network', `cannot reach ${this.origin}${err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : ''}`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, json };
  }

  /** What the server offers; a server without /v1/auth/config (older) offers tokens only. */
  async config(): Promise<AuthConfigResponse> {
    const r = await this.request('/v1/auth/config', { headers: { accept: 'application/json' } });
    const parsed = AuthConfigResponse.safeParse(r.json);
    if (r.status === 200 && parsed.success) return parsed.data;
    return { methods: ['token'], sessionTtlSeconds: 1 };
  }

  async start(clientName: string): Promise<DeviceAuthorizationResponse> {
    const r = await this.post('/v1/auth/device', { client_id: 'elevate-vscode', client_name: clientName });
    const parsed = DeviceAuthorizationResponse.safeParse(r.json);
    if (r.status !== 200 || !parsed.success) throw new ApiError(r.status, 'invalid_response', `${this.origin} did not start a sign-in (HTTP ${r.status})`);
    // the browser is sent only to this server's own page, never to a URL it names elsewhere
    if (new URL(parsed.data.verification_uri_complete).origin !== this.origin) {
      throw new ApiError(0, 'bad_url', `refusing to open ${new URL(parsed.data.verification_uri_complete).origin}: not ${this.origin}`);
    }
    return parsed.data;
  }

  /** Polls until the user has signed in in the browser; the session token, or an ApiError with the reason. */
  async poll(device: DeviceAuthorizationResponse, signal: AbortSignal): Promise<DeviceTokenResponse> {
    let interval = device.interval * 1000;
    for (;;) {
      await this.sleep(interval, signal);
      if (signal.aborted) throw new SignInCancelled();
      const r = await this.post('/v1/auth/token', { grant_type: DEVICE_GRANT_TYPE, device_code: device.device_code, client_id: 'elevate-vscode' });
      if (signal.aborted) throw new SignInCancelled();
      if (r.status === 200) {
        const ok = DeviceTokenResponse.safeParse(r.json);
        if (ok.success) return ok.data;
        throw new ApiError(r.status, 'invalid_response', `${this.origin} answered the sign-in with something unexpected`);
      }
      const err = DeviceTokenError.safeParse(r.json);
      if (!err.success) throw new ApiError(r.status, 'invalid_response', `${this.origin} answered the sign-in with HTTP ${r.status}`);
      switch (err.data.error) {
        case 'authorization_pending':
          continue;
        case 'slow_down':
          interval += 5000;
          continue;
        case 'expired_token':
          throw new ApiError(400, 'unauthenticated', 'The sign-in code expired before the browser sign-in finished. Sign in again.');
        case 'access_denied':
          throw new ApiError(403, 'forbidden', `Sign-in was refused: ${err.data.error_description ?? 'access denied'}.`);
        default:
          throw new ApiError(400, 'invalid_request', `Sign-in failed: ${err.data.error_description ?? err.data.error}.`);
      }
    }
  }
}
