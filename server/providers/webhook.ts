// type "webhook": POSTs grant, extend and revoke events as JSON to a URL, signed so the receiver
// knows they come from this server and are fresh.
//
//   POST <url>
//   Content-Type: application/json
//   Elevate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
//   Elevate-Idempotency-Key: <grantId>:<event>:<expiresAt ISO>
//   {"event": "grant"|"extend"|"revoke", "grant": {id, userId, resourceId, role, startsAt, expiresAt}, "sentAt": ISO}
//
// A receiver recomputes the HMAC over the raw body, compares in constant time, and refuses a
// timestamp more than a few minutes off. The same event is delivered again after a failure or a
// crash (at least once), always with the same idempotency key, so a receiver can drop repeats.
// Any 2xx is success; anything else, or no answer within the timeout, is a failure that the
// outbox retries with backoff (revocations until they succeed). A 2xx answer to "grant" may
// carry {"credentials": {"NAME": "value", ...}} for the grant's owner.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ProviderConfig } from '../domain/types.js';
import { WebhookConfig, parseProviderConfig, readSecret, resolveUrl } from './config.js';
import type { Credentials, Provider, ProvisionedGrant } from './types.js';

const DEFAULT_TIMEOUT_S = 10;
const MAX_RESPONSE = 64 * 1024;

export const SIGNATURE_HEADER = 'Elevate-Signature';
export const IDEMPOTENCY_HEADER = 'Elevate-Idempotency-Key';

/** `t=<unix>,v1=<hex>` over "<t>.<body>". */
export function sign(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/** For receivers (and tests): true when the header signs this body and is within `toleranceS` of now. */
export function verify(secret: string, body: string, header: string | undefined | null, nowUnix: number, toleranceS = 300): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m) return false;
  const t = Number(m[1]);
  if (Math.abs(nowUnix - t) > toleranceS) return false;
  const want = Buffer.from(sign(secret, body, t).slice(-64), 'hex');
  return timingSafeEqual(want, Buffer.from(m[2], 'hex'));
}

/** POSTs a signed JSON body; throws on a non-2xx answer or timeout. Shared with notifications. */
export async function postSigned(url: string, body: string, opts: { secret?: string; idempotencyKey?: string; signal: AbortSignal }): Promise<Response> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json', 'User-Agent': 'elevate' };
  if (opts.secret !== undefined) headers[SIGNATURE_HEADER] = sign(opts.secret, body, Math.floor(Date.now() / 1000));
  if (opts.idempotencyKey !== undefined) headers[IDEMPOTENCY_HEADER] = opts.idempotencyKey;
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers, body, signal: opts.signal, redirect: 'error' });
  } catch (e) {
    // the URL may carry a token (Slack's do): say what failed, not where
    const cause = opts.signal.aborted
      ? 'timed out'
      : e instanceof Error && e.cause instanceof Error
        ? e.cause.message.replace(/https?:\/\/\S+/g, '<url>')
        : 'request failed';
    throw new Error(`webhook POST failed: ${cause}`);
  }
  if (res.status < 200 || res.status > 299) {
    await res.body?.cancel().catch(() => {});
    throw new Error(`webhook answered HTTP ${res.status}`);
  }
  return res;
}

export const grantPayload = (g: ProvisionedGrant) => ({
  id: g.id,
  userId: g.userId,
  resourceId: g.resourceId,
  role: g.role,
  startsAt: new Date(g.startsAt).toISOString(),
  expiresAt: new Date(g.expiresAt).toISOString(),
});

async function readCredentials(res: Response): Promise<Credentials | undefined> {
  const text = await res.text();
  if (text.length === 0 || text.length > MAX_RESPONSE || !/json/i.test(res.headers.get('content-type') ?? '')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const creds = (parsed as { credentials?: unknown } | null)?.credentials;
  if (creds === undefined) return undefined;
  if (typeof creds !== 'object' || creds === null || Array.isArray(creds) || !Object.values(creds).every((v) => typeof v === 'string')) {
    throw new Error('webhook answered with "credentials" that are not an object of strings');
  }
  return creds as Credentials;
}

export function webhookProvider(): Provider {
  const send = async (event: 'grant' | 'extend' | 'revoke', grant: ProvisionedGrant, config: ProviderConfig, signal: AbortSignal) => {
    const cfg = parseProviderConfig(WebhookConfig, config);
    const timeout = AbortSignal.any([signal, AbortSignal.timeout((cfg.timeout ?? DEFAULT_TIMEOUT_S) * 1000)]);
    const g = grantPayload(grant);
    const body = JSON.stringify({ event, grant: g, sentAt: new Date().toISOString() });
    return postSigned(resolveUrl(cfg.url), body, { secret: readSecret(cfg.secret), idempotencyKey: `${grant.id}:${event}:${g.expiresAt}`, signal: timeout });
  };
  return {
    async grant(grant, config, signal) {
      return readCredentials(await send('grant', grant, config, signal));
    },
    async extend(grant, config, signal) {
      await (await send('extend', grant, config, signal)).body?.cancel();
    },
    async revoke(grant, config, signal) {
      await (await send('revoke', grant, config, signal)).body?.cancel();
    },
  };
}
