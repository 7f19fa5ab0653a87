// Elevate with sign-in through a real OpenID provider (oidc-provider, server/demo/idp.ts), both on
// loopback, and the steps of the device flow as a user and an editor take them.
import { serve } from '@hono/node-server';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { FakeClock } from '../../server/domain/clock.js';
import { DEMO_IDP_USERS, startDemoIdp, type DemoIdp, type DemoIdpUser } from '../../server/demo/idp.js';
import { Browser, field, formAction, type Page } from './browser.js';
import { freePort, makeServer, type MakeServerOptions, type TestServer } from './server.js';

export const SECRET_ENV = 'ELEVATE_TEST_OIDC_SECRET';

/** Resources and the people the policy file lists itself (a service account); everyone else comes from the IdP. */
export const oidcPolicy = (o: { issuer: string; publicUrl: string; extra?: string; oidcExtra?: string; sessionTtl?: string }) => `
server:
  publicUrl: ${o.publicUrl}
identity:
  oidc:
    issuer: ${o.issuer}
    clientId: elevate
    clientSecret: { env: ${SECRET_ENV} }
    scopes: [openid, profile, email, groups]
    usernameClaim: preferred_username
    groupsClaim: groups
    allowedGroups: [engineering]
    roles: { admin: [group:elevate-admins], auditor: [group:security] }
${o.oidcExtra ?? ''}
  sessionTtl: ${o.sessionTtl ?? '12h'}
users:
  - id: svc
    roles: [service]
resources:
  - id: prod-db
    name: Production database
    roles: [read, write]
    maxDuration: 4h
    approval:
      approvers: [group:dba]
${o.extra ?? ''}
`;

/** What a test needs of an IdP: where it is, the client secret, and how to stop it. */
export type TestIdp = Pick<DemoIdp, 'issuer' | 'clientSecret' | 'stop'>;

export interface OidcWorld {
  s: TestServer;
  idp: TestIdp;
  url: string;
  clock: FakeClock;
  close(): Promise<void>;
}

export async function startOidcWorld(
  o: {
    users?: Record<string, DemoIdpUser>;
    /** another IdP than the demo one (given the redirect URI to allow) */
    idp?: (redirectUri: string) => Promise<TestIdp>;
    policy?: (issuer: string, publicUrl: string) => string;
    sessionTtl?: string;
    options?: MakeServerOptions['options'];
  } = {},
): Promise<OidcWorld> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const redirectUri = `${url}/auth/callback`;
  const idp = o.idp ? await o.idp(redirectUri) : await startDemoIdp({ users: o.users ?? DEMO_IDP_USERS, redirectUris: [redirectUri] });
  process.env[SECRET_ENV] = idp.clientSecret;
  // the IdP stamps tokens with the real time, so the server's fake clock starts there
  const clock = new FakeClock(Date.now());
  const s = await makeServer({
    clock,
    policy: o.policy?.(idp.issuer, url) ?? oidcPolicy({ issuer: idp.issuer, publicUrl: url, sessionTtl: o.sessionTtl }),
    options: o.options,
  });
  const server = serve({ fetch: (req, env) => s.services.app.fetch(req, env), hostname: '127.0.0.1', port });
  await new Promise<void>((ok, fail) => {
    if (server.listening) ok();
    server.once('listening', ok);
    server.once('error', fail);
  });
  assert.equal((server.address() as AddressInfo).port, port);
  return {
    s,
    idp,
    url,
    clock,
    async close() {
      (server as unknown as { closeAllConnections(): void }).closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
      await s.close();
      await idp.stop();
    },
  };
}

/** JSON or form POST to the API without a token (the device grant is public). */
export async function post(url: string, path: string, form: Record<string, string>): Promise<{ status: number; body: any }> {
  const res = await fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, body: await res.json() };
}

export async function startDevice(
  w: OidcWorld,
  clientName = 'VS Code',
): Promise<{ device_code: string; user_code: string; verification_uri: string; verification_uri_complete: string; interval: number; expires_in: number }> {
  const r = await post(w.url, '/v1/auth/device', { client_id: 'elevate-vscode', client_name: clientName });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

export const poll = (w: OidcWorld, deviceCode: string) =>
  post(w.url, '/v1/auth/token', { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: deviceCode });

/** Opens the verification link, confirms the code, and returns where the confirmation leads (the IdP). */
export async function confirmCode(b: Browser, verificationUriComplete: string): Promise<string> {
  const page = await b.browse(verificationUriComplete);
  assert.equal(page.status, 200, page.text);
  const res = await b.request(
    'POST',
    new URL('/auth/device', verificationUriComplete).href,
    { user_code: field(page.text, 'user_code'), csrf: field(page.text, 'csrf') },
    {
      origin: new URL(verificationUriComplete).origin,
      'sec-fetch-site': 'same-origin',
    },
  );
  assert.equal(res.status, 303, res.text);
  return res.headers.get('location')!;
}

/**
 * From the IdP's authorization URL: the login form, the credentials, back to Elevate's callback.
 * `stopAtCallback`: return the callback URL without visiting it.
 */
export async function logInAtIdp(
  b: Browser,
  w: OidcWorld,
  authorizeUrl: string,
  user: string,
  password: string,
  o: { stopAtCallback?: boolean; rewrite?: (url: string) => string } = {},
): Promise<Page> {
  const stopAt = o.stopAtCallback ? (u: string) => u.startsWith(`${w.url}/auth/callback`) : undefined;
  const login = await b.browse(authorizeUrl, { rewrite: o.rewrite, stopAt });
  assert.equal(login.status, 200, login.text);
  assert.match(login.text, /Demo identity provider/);
  return b.submit(formAction(login.text, login.url), { username: user, password }, { stopAt });
}

/** The whole browser part: confirm the code, sign in at the IdP, land on Elevate's answer. */
export async function signInInBrowser(
  w: OidcWorld,
  verificationUriComplete: string,
  user: string,
  password = DEMO_IDP_USERS[user]?.password ?? 'x',
  b = new Browser(),
): Promise<Page> {
  const to = await confirmCode(b, verificationUriComplete);
  return logInAtIdp(b, w, to, user, password);
}

/** Device code → browser sign-in → the session token (with the clock moved past the interval). */
export async function signIn(w: OidcWorld, user: string): Promise<string> {
  const d = await startDevice(w);
  const page = await signInInBrowser(w, d.verification_uri_complete, user);
  assert.equal(page.status, 200, page.text);
  const r = await poll(w, d.device_code);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.access_token;
}

export async function api(w: OidcWorld, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(w.url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}
