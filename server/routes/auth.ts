// Sign-in routes. Public (no bearer token): GET /v1/auth/config, the RFC 8628 device grant
// (POST /v1/auth/device, POST /v1/auth/token), and the browser pages /auth/device and
// /auth/callback. POST /v1/auth/logout needs the session it ends (authRoutes.afterAuth).
import { Hono, type Context } from 'hono';
import { getCookie, setCookie, deleteCookie } from 'hono/cookie';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { FailureLimiter, requestClient } from '../http/auth.js';
import type { AppDeps, Env } from '../http/context.js';
import { errorResponse, zodDetails } from '../http/errors.js';
import { confirmPage, enterCodePage, messagePage, signedInPage, type Page } from '../identity/pages.js';
import { DEVICE_GRANT_TYPE, SignInRefused } from '../identity/service.js';
import { DeviceAuthorizationRequest, DeviceTokenRequest } from '../protocol/auth.js';

const COOKIE_TTL_SECONDS = 600;

function send(c: Context, p: Page): Response {
  return c.html(p.html, p.status, { 'Content-Security-Policy': p.csp, 'Cache-Control': 'no-store' });
}

/** A form (application/x-www-form-urlencoded, as RFC 8628 clients send) or a JSON object. */
async function readFields(c: Context): Promise<Record<string, unknown>> {
  const type = c.req.header('content-type') ?? '';
  if (/^application\/x-www-form-urlencoded\b/i.test(type)) {
    return Object.fromEntries(new URLSearchParams(await c.req.text()));
  }
  if (/^application\/json\b/i.test(type)) {
    const body: unknown = await c.req.json().catch(() => undefined);
    return typeof body === 'object' && body !== null && !Array.isArray(body) ? { ...body } : {};
  }
  return {};
}

const sameSecret = (a: string | undefined, b: string | undefined): boolean =>
  a !== undefined && b !== undefined && a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** Per-client budget for a kind of attempt; over it, 429 until the minute passes. */
function budget(perMinute: number) {
  const limiter = new FailureLimiter(perMinute);
  return {
    blocked: (ip: string, now: number) => limiter.blocked(ip, now),
    spend: (ip: string, now: number) => limiter.fail(ip, now),
  };
}

export function authRoutes(deps: AppDeps) {
  const identity = deps.identity;
  const app = new Hono<Env>();
  const ipOf = (c: Context) => requestClient(c, deps.policy());
  const secure = () => identity.base().startsWith('https:');
  // __Host- cookies: only over https, only for this exact host, path /
  const cookie = (name: string) => (secure() ? `__Host-elevate_${name}` : `elevate_${name}`);
  const cookieOptions = () => ({ path: '/', httpOnly: true, secure: secure(), maxAge: COOKIE_TTL_SECONDS });

  // device codes are cheap to ask for but each is a row: bound what one client can make
  const deviceBudget = budget(deps.options?.deviceCodesPerMinute ?? 30);
  // wrong user codes on the page and failed callbacks: guessing a code must not pay
  const pageBudget = budget(deps.options?.signInFailuresPerMinute ?? 20);

  app.get('/v1/auth/config', (c) => c.json(identity.config(), 200));

  app.post('/v1/auth/device', async (c) => {
    const ip = ipOf(c);
    const now = deps.clock.now();
    if (deviceBudget.blocked(ip, now)) return errorResponse(c, 429, 'rate_limited', 'too many sign-in codes requested from this client; try again in a minute');
    const body = DeviceAuthorizationRequest.safeParse(await readFields(c));
    if (!body.success) {
      const details = zodDetails(body.error, 'body');
      return errorResponse(c, 400, 'invalid_request', `invalid request: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`, details);
    }
    deviceBudget.spend(ip, now);
    return c.json(await identity.startDevice({ ip, name: body.data.client_name }), 200);
  });

  app.post('/v1/auth/token', async (c) => {
    const oauthError = (error: string, description: string) => c.json({ error, error_description: description }, 400);
    const body = DeviceTokenRequest.safeParse(await readFields(c));
    if (!body.success) return oauthError('invalid_request', 'expected grant_type and device_code');
    if (body.data.grant_type !== DEVICE_GRANT_TYPE) return oauthError('unsupported_grant_type', `only ${DEVICE_GRANT_TYPE} is supported here`);
    if (!identity.enabled()) return oauthError('invalid_grant', 'this server does not offer sign-in through an identity provider');
    const r = await identity.poll(body.data.device_code, ipOf(c));
    if (!r.ok) return oauthError(r.error, r.description);
    return c.json({ access_token: r.accessToken, token_type: 'Bearer' as const, expires_in: r.expiresIn }, 200);
  });

  // ---------- the browser pages ----------

  app.get('/auth/device', async (c) => {
    if (!identity.enabled()) return send(c, messagePage(400, 'Sign-in is not available', 'This server does not offer sign-in through an identity provider.'));
    const given = c.req.query('user_code');
    if (given === undefined || given.trim() === '') return send(c, enterCodePage());
    const ip = ipOf(c);
    const now = deps.clock.now();
    if (pageBudget.blocked(ip, now))
      return send(c, messagePage(429, 'Too many attempts', 'Too many wrong codes from this address; wait a minute and try again.'));
    const found = await identity.lookUpUserCode(given);
    if (!found.ok) {
      pageBudget.spend(ip, now);
      return send(c, enterCodePage(found.reason));
    }
    let idpOrigin: string;
    try {
      idpOrigin = await identity.relyingParty().authorizationOrigin();
    } catch (e) {
      return send(c, messagePage(400, 'The identity provider cannot be reached', e instanceof SignInRefused ? e.reason : 'Try again in a moment.'));
    }
    // CSRF: the confirmation must be posted from this page (double-submit: cookie and field)
    const csrf = randomBytes(32).toString('base64url');
    setCookie(c, cookie('csrf'), csrf, { ...cookieOptions(), sameSite: 'Strict' });
    const d = found.device;
    return send(
      c,
      confirmPage({
        userCode: `${found.code.slice(0, 4)}-${found.code.slice(4)}`,
        csrf,
        requestedAgoSeconds: Math.round((now - d.createdAt) / 1000),
        clientIp: d.clientIp,
        clientName: d.clientName,
        idpOrigin,
      }),
    );
  });

  app.post('/auth/device', async (c) => {
    if (!identity.enabled()) return send(c, messagePage(400, 'Sign-in is not available', 'This server does not offer sign-in through an identity provider.'));
    const fields = await readFields(c);
    const form = z.object({ user_code: z.string().max(20), csrf: z.string().max(100) }).safeParse(fields);
    // A cross-site page must not be able to confirm a code in the user's name (that would sign
    // the attacker's editor in with the user's IdP session): the request must come from our own
    // page, as the browser says (Sec-Fetch-Site, Origin) and as the double-submit token proves.
    // Sec-Fetch-Site is set by the browser and cannot be forged by a page; without it (older
    // browsers), Origin must be this server's, as configured or as the request reached it.
    const site = c.req.header('sec-fetch-site');
    const origin = c.req.header('origin');
    const crossSite =
      site !== undefined ? site !== 'same-origin' : origin !== undefined && origin !== new URL(identity.base()).origin && origin !== new URL(c.req.url).origin;
    if (!form.success || crossSite || !sameSecret(getCookie(c, cookie('csrf')), form.data.csrf)) {
      return send(
        c,
        messagePage(
          403,
          'Please confirm the code again',
          'This confirmation did not come from the sign-in page of this server. Open the link your editor shows and check the code again.',
        ),
      );
    }
    deleteCookie(c, cookie('csrf'), cookieOptions());
    const found = await identity.lookUpUserCode(form.data.user_code);
    if (!found.ok) return send(c, enterCodePage(found.reason));
    const browserSecret = randomBytes(32).toString('base64url');
    let to: URL;
    try {
      to = await identity.beginLogin(found.device, browserSecret);
    } catch (e) {
      return send(c, messagePage(400, 'The identity provider cannot be reached', e instanceof SignInRefused ? e.reason : 'Try again in a moment.'));
    }
    // Lax: the IdP sends the browser back with a top-level GET from its own site
    setCookie(c, cookie('login'), browserSecret, { ...cookieOptions(), sameSite: 'Lax' });
    return c.redirect(to.href, 303);
  });

  app.get('/auth/callback', async (c) => {
    const ip = ipOf(c);
    const now = deps.clock.now();
    if (pageBudget.blocked(ip, now))
      return send(c, messagePage(429, 'Too many attempts', 'Too many failed sign-ins from this address; wait a minute and try again.'));
    if (!identity.enabled()) return send(c, messagePage(400, 'Sign-in is not available', 'This server does not offer sign-in through an identity provider.'));
    const query = new URL(c.req.url).searchParams;
    const browserSecret = getCookie(c, cookie('login'));
    try {
      const { userId } = await identity.finishLogin(query, browserSecret, ip);
      deleteCookie(c, cookie('login'), cookieOptions());
      return send(c, signedInPage(userId));
    } catch (e) {
      if (!(e instanceof SignInRefused)) throw e;
      pageBudget.spend(ip, now);
      return send(c, messagePage(400, 'Sign-in refused', `Sign-in refused: ${e.reason}.`));
    }
  });

  return app;
}

/** POST /v1/auth/logout: ends the session (or token) the request was made with. */
export function logoutRoute(deps: AppDeps) {
  const app = new Hono<Env>();
  app.post('/v1/auth/logout', async (c) => {
    const actor = c.get('actor');
    await deps.identity.signOut({ userId: actor.user.id, tokenId: actor.tokenId, ...(actor.ip && { ip: actor.ip }) });
    return c.json({ signedOut: true as const }, 200);
  });
  return app;
}
