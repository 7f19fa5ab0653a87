// createApp(deps): the whole HTTP API as one Hono app, with no port and no database of its own,
// so tests drive it through app.request() and main.ts serves it.
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { randomBytes } from 'node:crypto';
import { matchedRoutes } from 'hono/route';
import { canReadMetrics } from './domain/rights.js';
import { policyHash } from './domain/policyHash.js';
import { authenticate } from './http/auth.js';
import { isAllowedHost, publicHostNames } from './http/host.js';
import { endOfTurn } from './http/turn.js';
import type { AppDeps, Env } from './http/context.js';
import { errorResponse, handleError, zodDetails } from './http/errors.js';
import { MAX_BODY_BYTES } from './protocol/index.js';
import { auditRoutes } from './routes/audit.js';
import { credentialRoutes } from './routes/credentials.js';
import { eventRoutes } from './routes/events.js';
import { grantRoutes } from './routes/grants.js';
import { metaRoutes } from './routes/meta.js';
import { requestRoutes } from './routes/requests.js';
import { authRoutes, logoutRoute } from './routes/auth.js';

export const VERSION = '0.1.0';

/** An API, not a web page: nothing may frame, embed, sniff or cache its answers. */
const SECURITY_HEADERS: [string, string][] = [
  ['Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'"],
  ['X-Content-Type-Options', 'nosniff'],
  ['X-Frame-Options', 'DENY'],
  ['Referrer-Policy', 'no-referrer'],
  ['Cross-Origin-Resource-Policy', 'same-origin'],
  ['Cross-Origin-Opener-Policy', 'same-origin'],
  ['Cache-Control', 'no-store'],
];

const tooLarge = (c: Context) => errorResponse(c, 413, 'payload_too_large', `request body is larger than ${MAX_BODY_BYTES / 1024} KiB`);

/**
 * The body checks of a request that can carry one: the size by Content-Length (which Node's
 * parser holds the body to; touching c.req.raw.body, as hono/body-limit does, would build a full
 * Request and stream per request; chunked bodies are counted as they stream, by the caller), and
 * JSON only, since a wrong Content-Type would skip validation. An error answer, or undefined.
 */
function checkBody(c: Context, method: string): Response | undefined {
  const length = c.req.header('content-length');
  if (length !== undefined && Number(length) > MAX_BODY_BYTES) return tooLarge(c);
  if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
    const type = c.req.header('content-type');
    const hasBody = (length !== undefined && length !== '0') || c.req.header('transfer-encoding') !== undefined;
    // sign-in takes forms too: RFC 8628 clients post them, and so does the verification page
    const form = /^application\/x-www-form-urlencoded\b/i.test(type ?? '') && /^\/(v1\/)?auth\//.test(c.req.path);
    if (hasBody && !form && !/^application\/json\b/i.test(type ?? '')) {
      return errorResponse(c, 400, 'invalid_request', 'request body must be JSON (Content-Type: application/json)', [
        { path: 'header.content-type', message: `expected application/json, got ${type ?? 'none'}` },
      ]);
    }
  }
  return undefined;
}

/** The route pattern that answered (e.g. /v1/grants/:id), or "unmatched": a label with few values. */
function routeOf(c: Context): string {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) if (routes[i].method !== 'ALL') return routes[i].path;
  return 'unmatched';
}

/** The names this server answers to (see http/host.ts), recomputed when the policy is reloaded. */
function hostNames(deps: AppDeps): () => readonly string[] {
  let forPolicy: unknown;
  let names: readonly string[] = [];
  return () => {
    const policy = deps.policy();
    if (policy !== forPolicy) {
      forPolicy = policy;
      names = publicHostNames(policy.server.publicUrl, deps.options?.listenHost);
    }
    return names;
  };
}

/** 421 for a Host this server is not reached by (a DNS-rebinding page, a misrouted proxy). */
function wrongHost(c: Context, names: readonly string[]): Response | undefined {
  // under app.request() (tests) there is no Host header: the URL's host stands for it
  const host = c.req.header('host') ?? new URL(c.req.url).host;
  if (isAllowedHost(host, names)) return undefined;
  const known = ['localhost', '127.0.0.1', '[::1]', ...names].join(', ');
  return errorResponse(
    c,
    421,
    'invalid_request',
    `this server does not answer to the host name "${host.slice(0, 100)}": it answers to ${known} and IP addresses; set server.publicUrl in the policy to the URL clients use`,
    [{ path: 'header.host', message: `expected one of ${known}` }],
  );
}

export function createApp(deps: AppDeps) {
  const allowedHosts = hostNames(deps);
  // request ids for log correlation: a random per-process prefix and a counter (no RNG per request)
  const idPrefix = randomBytes(3).toString('base64url') + '-';
  let requestCount = 0;
  const app = new OpenAPIHono<Env>({
    // every schema failure becomes one 400 whose details name each bad field
    defaultHook: (result, c) => {
      if (!result.success) {
        const where = result.target === 'json' ? 'body' : result.target === 'param' ? 'path' : result.target;
        const details = zodDetails(result.error, where);
        return errorResponse(c, 400, 'invalid_request', `invalid request: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`, details);
      }
    },
  });

  // a chunked body is counted as it streams; over the limit, the 413 becomes the answer
  const limitStream = bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => (c.res = tooLarge(c)) });
  // One middleware for what every request gets (fewer promise hops than one per concern): a
  // request id, the security headers, the body checks, the answers of a turn sent together
  // (http/turn.ts), the log line.
  app.use('*', async (c, next) => {
    const started = performance.now();
    c.set('requestId', `${idPrefix}${(++requestCount).toString(36)}`);
    // Set before the handler runs: a header added to a finished Response makes Hono rebuild it
    // (a full WHATWG Response and body stream per request). On Node they go on the socket's
    // response, which every answer shares; in-process (app.request in tests) on the context.
    // The event stream writes its own headers straight to the socket.
    const outgoing = c.env?.outgoing;
    if (outgoing) for (const [k, v] of SECURITY_HEADERS) outgoing.setHeader(k, v);
    else for (const [k, v] of SECURITY_HEADERS) c.header(k, v);
    const method = c.req.method;
    const bodyless = method === 'GET' || method === 'HEAD';
    const refused = wrongHost(c, allowedHosts()) ?? (bodyless ? undefined : checkBody(c, method));
    if (refused) c.res = refused;
    else if (!bodyless && c.req.header('content-length') === undefined) await limitStream(c, next);
    else await next();
    // reads (GET, HEAD) answer at the end of the turn, together (http/turn.ts); a write answers once
    // it has committed, which on SQLite is already the end of the turn (group commit)
    if (bodyless) await endOfTurn();
    // Every answer was made after the commit of what it wrote (Store.transaction resolves only
    // then; a failed commit rejects, and the error handler makes that a 503)
    // no headers, no query values, no bodies: tokens and justifications stay out of the log.
    // Successful access checks and health probes are machine traffic (checks are audited
    // anyway): they log at debug level so they do not drown everything else.
    const status = c.res.status;
    const path = c.req.path;
    deps.metrics?.observeHttp(method, routeOf(c), status, (performance.now() - started) / 1000);
    const routine = status < 400 && (path === '/v1/check' || path === '/healthz' || path === '/readyz' || path === '/metrics');
    if (routine && deps.logger.enabled?.('debug') === false) return;
    deps.logger.log(routine ? 'debug' : 'info', 'request', {
      id: c.get('requestId'),
      method,
      path,
      status,
      ms: Math.round((performance.now() - started) * 10) / 10,
      user: c.get('actor')?.user.id,
    });
  });

  // alive, and which policy it serves (replicas serving the same rules report the same hash)
  app.get('/healthz', (c) => c.json({ ok: true as const, policyHash: policyHash(deps.policy()) }, 200));
  // ready to serve: the database answers, its schema is this server's, the startup catch-up is done
  app.get('/readyz', async (c) => {
    const r = (await deps.readiness?.()) ?? { ready: true, checks: {}, problems: [] };
    return c.json(r.ready ? { ready: true, checks: r.checks } : { ready: false, checks: r.checks, problems: r.problems }, r.ready ? 200 : 503);
  });
  // sign-in itself needs no token (registered before the authentication below); logout does
  app.route('/', authRoutes(deps));
  const auth = authenticate(deps);
  app.use('/v1/*', auth);
  app.route('/', logoutRoute(deps));
  // Prometheus scrapes with a service token (docs/DEPLOY.md says why not anonymously)
  app.use('/metrics', auth);
  app.get('/metrics', async (c) => {
    if (!canReadMetrics(c.get('actor').user)) return errorResponse(c, 403, 'forbidden', 'metrics need the service or admin role');
    if (!deps.metrics) return errorResponse(c, 404, 'not_found', 'metrics are not enabled');
    const { body, contentType } = await deps.metrics.render();
    return c.body(body, 200, { 'Content-Type': contentType });
  });

  app.route('/', metaRoutes(deps));
  app.route('/', requestRoutes(deps));
  app.route('/', grantRoutes(deps));
  app.route('/', credentialRoutes(deps));
  app.route('/', auditRoutes(deps));
  app.route('/', eventRoutes(deps));

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'elv_… token from `elevate-server token issue`',
  });
  // rendered once, on first request: generating it from the schemas costs tens of milliseconds
  let openapi: string | undefined;
  app.get('/openapi.json', (c) => {
    openapi ??= JSON.stringify(
      app.getOpenAPIDocument({
        openapi: '3.0.3',
        info: { title: 'Elevate', version: VERSION, description: 'Just-in-time privileged access: requests, approvals, time-boxed grants, audit.' },
      }),
    );
    return c.body(openapi, 200, { 'Content-Type': 'application/json; charset=utf-8' });
  });

  app.notFound((c) => errorResponse(c, 404, 'not_found', `no route for ${c.req.method} ${c.req.path}`));
  app.onError((err, c) => handleError(err, c, deps.logger));
  return app;
}

/** @public The app's type, for typed clients (Hono RPC). */
export type AppType = ReturnType<typeof createApp>;
