// Security against the real server: every route in /openapi.json walked with every role and a
// stranger's ids (a route without expectations here fails, so a new one is never forgotten),
// brute force, headers, CORS, the listening guard, revoked tokens ending event streams, and
// finally a scan of everything the run left behind for any token in plaintext.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { buildServer, cli, freePort, makeServer, SERVER_JS, spawnServer, tempDir, type SpawnedServer } from '../helpers/server.js';
import { testDatabase } from '../helpers/backend.js';
import { beyondDb, call, errorShapeProblem, rawRequest, report, sleep, startServer, withSql, workspace, type Workspace } from './lib.js';

type Role = 'requester' | 'stranger' | 'approver' | 'admin' | 'auditor' | 'service' | 'none' | 'bad';
const ROLES: Role[] = ['requester', 'stranger', 'approver', 'admin', 'auditor', 'service', 'none', 'bad'];
const USER: Record<Role, string | null> = {
  requester: 'alice',
  stranger: 'dave',
  approver: 'bob',
  admin: 'carol',
  auditor: 'audrey',
  service: 'svc',
  none: null,
  bad: null,
};

/**
 * Expected status per route and role, for objects owned by the requester (alice): her pending
 * prod-db request and her active staging-db grant; bob approves both resources, carol is admin
 * (not an approver), dave a stranger. A route missing here fails the walk.
 */
const all = (s: number): Partial<Record<Role, number>> => ({ requester: s, stranger: s, approver: s, admin: s, auditor: s, service: s });
const ownerOnly = (s: number) => ({ requester: s, approver: 403, admin: 403, auditor: 403, stranger: 404, service: 404 });
const EXPECT: Record<string, Partial<Record<Role, number>>> = {
  'GET /v1/me': all(200),
  'GET /v1/resources': all(200),
  'GET /v1/check': { ...all(403), service: 200, admin: 200 },
  // bob is prod-db's only approver: his own request could never be approved
  'POST /v1/requests': { ...all(201), approver: 422 },
  'GET /v1/requests': all(200),
  'GET /v1/requests/{id}': { requester: 200, approver: 200, admin: 200, auditor: 200, stranger: 404, service: 404 },
  'POST /v1/requests/{id}/approve': { requester: 403, approver: 200, admin: 403, auditor: 403, stranger: 404, service: 404 },
  'POST /v1/requests/{id}/deny': { requester: 403, approver: 200, admin: 403, auditor: 403, stranger: 404, service: 404 },
  'POST /v1/requests/{id}/cancel': ownerOnly(200),
  'GET /v1/grants': all(200),
  'GET /v1/grants/{id}': { requester: 200, approver: 200, admin: 200, auditor: 200, stranger: 404, service: 404 },
  'POST /v1/grants/{id}/extend': ownerOnly(200),
  'POST /v1/grants/{id}/relinquish': ownerOnly(200),
  'POST /v1/grants/{id}/revoke': { requester: 403, approver: 200, admin: 200, auditor: 403, stranger: 404, service: 404 },
  // provider "none" issues no credentials: the owner gets 409, anyone else may not read them
  'GET /v1/grants/{id}/credentials': ownerOnly(409),
  'GET /v1/audit': all(200),
  'GET /v1/audit/verify': { ...all(403), admin: 200, auditor: 200 },
  'GET /v1/events': all(200),
};

const BODY: Record<string, unknown> = {
  'POST /v1/requests': { resourceId: 'prod-db', role: 'read', durationSeconds: 600, justification: 'security walk' },
  'POST /v1/requests/{id}/approve': { comment: 'walk' },
  'POST /v1/requests/{id}/deny': { reason: 'walk' },
  'POST /v1/grants/{id}/extend': { durationSeconds: 60, justification: 'walk' },
  'POST /v1/grants/{id}/revoke': { reason: 'walk' },
};
const QUERY: Record<string, string> = {
  'GET /v1/check': '?userId=alice&resourceId=staging-db&role=read',
};

let ws: Workspace;
let server: SpawnedServer;
const secrets = new Set<string>(); // every token issued or presented in this run
const bodies: string[] = []; // every response body, for the leak scan
const headerProblems: string[] = [];
const aliceIds = new Set<string>();
let sseToken: { token: string; id: string };
let sseClosed: Promise<number>;
let sourceAddress = 10; // unauthenticated calls rotate loopback source addresses (the limiter is per address)
let calls = 0;

function issue(user: string, label: string): { token: string; id: string } {
  const r = cli(['token', 'issue', user, '--label', label, '--config', ws.policyPath, ...ws.db.args]);
  assert.equal(r.code, 0, r.stderr);
  const id = /token (tok_\S+)/.exec(r.stderr)?.[1];
  assert.ok(id, r.stderr);
  secrets.add(r.stdout.trim());
  return { token: r.stdout.trim(), id };
}

let headersChecked = 0;
function checkHeaders(where: string, h: Headers) {
  headersChecked++;
  const problems = [
    h.get('x-content-type-options') !== 'nosniff' && 'x-content-type-options',
    // an API is never framed: DENY, and frame-ancestors (default-src does not cover framing)
    h.get('x-frame-options') !== 'DENY' && 'x-frame-options: DENY',
    !/default-src 'none'/.test(h.get('content-security-policy') ?? '') && "content-security-policy: default-src 'none'",
    !/frame-ancestors 'none'/.test(h.get('content-security-policy') ?? '') && "content-security-policy: frame-ancestors 'none'",
    !/no-store/.test(h.get('cache-control') ?? '') && 'cache-control: no-store',
    h.get('access-control-allow-origin') !== null && 'access-control-allow-origin present',
  ].filter(Boolean);
  if (problems.length) headerProblems.push(`${where}: ${problems.join(', ')}`);
}

before(async () => {
  buildServer();
  ws = await workspace('security');
  for (const t of Object.values(ws.tokens)) secrets.add(t);
  server = await startServer(ws);
  // an event stream whose token is revoked from the CLI; it runs while the walk does
  sseToken = issue('dave', 'sse');
  const res = await fetch(`${server.url}/v1/events`, { headers: { authorization: `Bearer ${sseToken.token}` } });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  await reader.read(); // ": connected"
  const revoked = cli(['token', 'revoke', sseToken.id, ...ws.db.args]);
  assert.equal(revoked.code, 0, revoked.stderr);
  const t0 = Date.now();
  sseClosed = (async () => {
    for (;;) {
      const r = await reader.read().catch(() => ({ done: true }));
      if (r.done) return Date.now() - t0;
      if (Date.now() - t0 > 25_000) return Infinity;
    }
  })();
});

after(async () => {
  await server?.kill('SIGKILL');
  if (ws) rmSync(ws.dir, { recursive: true, force: true });
});

async function fixture() {
  const req = await call(server.url, ws.tokens.alice, 'POST', '/v1/requests', {
    resourceId: 'prod-db',
    role: 'read',
    durationSeconds: 600,
    justification: 'fixture',
  });
  const grant = await call(server.url, ws.tokens.alice, 'POST', '/v1/requests', {
    resourceId: 'staging-db',
    role: 'read',
    durationSeconds: 600,
    justification: 'fixture',
  });
  assert.equal(req.status, 201, req.text);
  assert.equal(grant.status, 201, grant.text);
  aliceIds.add(req.body.request.id).add(grant.body.request.id).add(grant.body.grant.id);
  return { requestId: req.body.request.id as string, grantId: grant.body.grant.id as string };
}

/** One call as a role; unauthenticated ones come from their own loopback address. */
async function as(role: Role, method: string, path: string, body?: unknown): Promise<{ status: number; text: string; headers: Headers }> {
  calls++;
  const sse = path.startsWith('/v1/events');
  if (role === 'none' || role === 'bad') {
    const bad = `elv_${randomBytes(32).toString('base64url')}`;
    secrets.add(bad);
    const headers: Record<string, string> = role === 'bad' ? { authorization: `Bearer ${bad}` } : {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await rawRequest(server.url, {
      method,
      path,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      localAddress: `127.0.0.${sourceAddress++}`,
    });
    const h = new Headers();
    for (const [k, v] of Object.entries(r.headers)) if (typeof v === 'string') h.set(k, v);
    return { status: r.status, text: r.text, headers: h };
  }
  const token = ws.tokens[USER[role]!];
  if (sse) {
    const ac = new AbortController();
    const res = await fetch(server.url + path, { headers: { authorization: `Bearer ${token}` }, signal: ac.signal });
    const type = res.headers.get('content-type') ?? '';
    ac.abort();
    assert.ok(res.status !== 200 || type.startsWith('text/event-stream'), `events: ${type}`);
    return { status: res.status, text: '', headers: res.headers };
  }
  const r = await call(server.url, token, method, path, body);
  return { status: r.status, text: r.text, headers: r.headers };
}

test('authz_everyOpenApiRoute_everyRole_strangersIds_noLeakNo5xx', async () => {
  const doc = await call(server.url, null, 'GET', '/openapi.json');
  assert.equal(doc.status, 200);
  const routes = Object.entries(doc.body.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) =>
    Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
  );
  assert.ok(routes.length >= 17, `openapi lists ${routes.length} routes`);
  const unknown = routes.filter((r) => !(r in EXPECT));
  assert.deepEqual(unknown, [], 'routes in /openapi.json without expectations in security.test.ts: add them to EXPECT');
  const failures: string[] = [];
  for (const route of routes) {
    const [method, template] = route.split(' ');
    for (const role of ROLES) {
      const f = await fixture();
      const path = template.replace('{id}', template.startsWith('/v1/requests/') ? f.requestId : f.grantId) + (QUERY[route] ?? '');
      const r = await as(role, method, path, BODY[route]);
      bodies.push(r.text);
      checkHeaders(`${route} as ${role}`, r.headers);
      const want = role === 'none' || role === 'bad' ? 401 : EXPECT[route][role];
      if (r.status >= 500) failures.push(`${route} as ${role}: ${r.status} ${r.text.slice(0, 200)}`);
      if (r.status !== want) failures.push(`${route} as ${role}: expected ${want}, got ${r.status} ${r.text.slice(0, 200)}`);
      if (r.status >= 400 && !path.startsWith('/v1/events')) {
        const p = errorShapeProblem(r.status, JSON.parse(r.text || 'null'));
        if (p) failures.push(`${route} as ${role}: ${p}`);
      }
      // the stranger learns nothing about alice: not her ids, not even whether they exist
      // (the id they sent may be echoed back in the 404 message: that tells them nothing)
      if (role === 'stranger') for (const id of aliceIds) if (!path.includes(id) && r.text.includes(id)) failures.push(`${route} as stranger leaks ${id}`);
      if (r.status === 404 && template.includes('{id}')) {
        const missing = await as(
          role,
          method,
          template.replace('{id}', `${template.startsWith('/v1/requests/') ? 'req' : 'grt'}_doesnotexist0000`),
          BODY[route],
        );
        if (missing.status !== 404) failures.push(`${route} as ${role}: a stranger's id gives 404 but a missing one ${missing.status}`);
        const strip = (t: string) => t.replace(/(req|grt)_[A-Za-z0-9_-]+/g, 'ID');
        if (strip(missing.text) !== strip(r.text)) failures.push(`${route} as ${role}: 404 for a hidden id differs from 404 for a missing one`);
      }
    }
  }
  for (const p of ['/healthz', '/openapi.json']) {
    for (const role of ROLES) {
      const r = await as(role, 'GET', p);
      checkHeaders(`GET ${p} as ${role}`, r.headers);
      if (r.status !== 200) failures.push(`GET ${p} as ${role}: ${r.status}`);
    }
  }
  report('security', { routes: routes.length, roles: ROLES.length, calls });
  assert.deepEqual(failures, []);
});

test('authz_listsAsStranger_showOnlyTheirOwn', async () => {
  await fixture();
  for (const path of ['/v1/requests', '/v1/requests?scope=reviewable&status=pending', '/v1/grants', '/v1/grants?status=active', '/v1/audit?limit=1000']) {
    const r = await call(server.url, ws.tokens.dave, 'GET', path);
    assert.equal(r.status, 200, path);
    for (const id of aliceIds) assert.ok(!r.text.includes(id), `${path} shows dave alice's ${id}`);
  }
  const all = await call(server.url, ws.tokens.dave, 'GET', '/v1/grants?scope=all');
  assert.equal(all.status, 403, 'scope=all needs oversight rights');
});

test('headers_everyResponse_hasNosniffFrameDenyCspNoStore_andNoCors', () => {
  assert.ok(headersChecked >= 150, `the route walk checked ${headersChecked} responses`);
  assert.deepEqual(headerProblems, []);
});

// found by this suite (fixed in b51d78c): /openapi.json was rendered from the schemas on every unauthenticated request (~45 ms)
test('openapi_unauthenticated_isCheapToServe', async () => {
  const times: number[] = [];
  for (let i = 0; i < 21; i++) {
    const t0 = performance.now();
    const r = await call(server.url, null, 'GET', '/openapi.json');
    times.push(performance.now() - t0);
    assert.equal(r.status, 200);
  }
  const median = times.sort((a, b) => a - b)[10];
  report('security', { openapiMedianMs: Math.round(median) });
  assert.ok(median < 10, `median ${median.toFixed(1)} ms per /openapi.json`);
});

// found by this suite (fixed in b51d78c): "Last-Event-ID: 0" made the server scan the whole audit log synchronously
test('eventStream_lastEventIdZero_doesNotStallTheServerOnALongLog', async (t) => {
  // bounded work, not a timing: a replay request reads at most one slice of the log (a few
  // thousand rows), then ends with an id-only frame at the last row read and "retry: 0", so the
  // client resumes from there on its next connection instead of one request scanning 50,000
  const s = await makeServer();
  t.after(() => s.close());
  const noise = Array.from({ length: 50_000 }, (_, i) => ({
    at: s.clock.now(),
    actorId: 'alice',
    action: 'grant.expired',
    subjectId: 'alice',
    resourceId: 'staging-db',
    details: { i },
  }));
  await s.store.transaction((tx) => tx.audit.append(noise));
  const first = (await s.store.read((tx) => tx.audit.head())).seq - noise.length;
  const res = await s.services.app.request('/v1/events', { headers: { authorization: `Bearer ${s.tokens.dave}`, 'last-event-id': String(first) } });
  const text = await res.text();
  const resume = /^id: (\d+)\nretry: 0$/m.exec(text);
  assert.ok(resume, `the slice ends with a resume point: ${text.slice(0, 200)}`);
  const read = Number(resume[1]) - first;
  report('security', { sseReplayRowsReadPerSlice: read, logRows: noise.length });
  assert.ok(read > 0 && read <= 10_000, `one replay request read ${read} of ${noise.length} rows`);
});

// found by this suite (fixed in b51d78c): HEAD /v1/events subscribed to the hub and was never removed
test('eventStream_headRequests_leaveNoSubscriberBehind', async (t) => {
  const s = await makeServer();
  t.after(() => s.close());
  const l = await s.listen();
  for (let i = 0; i < 20; i++) {
    const r = await fetch(`${l.url}/v1/events`, { method: 'HEAD', headers: { authorization: `Bearer ${s.tokens.carol}` } });
    await r.text();
  }
  await sleep(300);
  report('security', { subscribersLeftBy20HeadRequests: s.services.hub.size });
  assert.equal(s.services.hub.size, 0, `${s.services.hub.size} event-stream subscribers left behind by 20 HEAD requests`);
});

test('cors_isClosed_noAllowOriginAndNoPreflight', async () => {
  const origin = 'https://evil.example';
  const get = await rawRequest(server.url, { path: '/v1/me', headers: { origin, authorization: `Bearer ${ws.tokens.alice}` } });
  assert.equal(get.status, 200);
  assert.equal(get.headers['access-control-allow-origin'], undefined);
  for (const path of ['/v1/me', '/v1/requests', '/healthz']) {
    const pre = await rawRequest(server.url, {
      method: 'OPTIONS',
      path,
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
      localAddress: `127.0.0.${sourceAddress++}`,
    });
    assert.ok(pre.status >= 400, `preflight ${path} answered ${pre.status}`);
    for (const h of ['access-control-allow-origin', 'access-control-allow-methods', 'access-control-allow-headers', 'access-control-allow-credentials']) {
      assert.equal(pre.headers[h], undefined, `${h} on preflight ${path}`);
    }
  }
});

test('bruteForce_tokenGuessing_gets429_isAudited_andOnlyItsWrongTokensAreBlocked', async () => {
  const attacker = '127.0.0.2';
  const statuses: number[] = [];
  for (let i = 0; i < 30; i++) {
    const guess = `elv_${randomBytes(32).toString('base64url')}`;
    secrets.add(guess);
    const r = await rawRequest(server.url, { path: '/v1/me', headers: { authorization: `Bearer ${guess}` }, localAddress: attacker });
    statuses.push(r.status);
    if (r.status !== 401) {
      const p = errorShapeProblem(r.status, JSON.parse(r.text));
      assert.equal(p, null);
    }
  }
  const first429 = statuses.indexOf(429);
  assert.ok(first429 > 0 && first429 <= 20, `429 after at most 20 failures: ${statuses.join(',')}`);
  assert.ok(
    statuses.slice(first429).every((s) => s === 429),
    'and for every attempt after that',
  );
  const valid = await rawRequest(server.url, { path: '/v1/me', headers: { authorization: `Bearer ${ws.tokens.alice}` }, localAddress: attacker });
  assert.equal(valid.status, 200, 'a valid token is never refused because of failures (tokens are 256 random bits)');
  const other = await call(server.url, ws.tokens.alice, 'GET', '/v1/me');
  assert.equal(other.status, 200, 'other clients are unaffected');
  await sleep(300); // failed sign-ins are audited in batches at most 100 ms apart
  const audited = (await withSql(ws.db, (db) => db.all<{ details: string }>(`SELECT details FROM audit WHERE action = 'auth.failed'`)))
    .map((r) => JSON.parse(r.details) as { ip: string })
    .filter((d) => d.ip.endsWith(attacker)).length;
  assert.equal(audited, first429, 'every failed attempt before the block is audited as auth.failed');
  report('security', { bruteForce: { attempts: statuses.length, first429At: first429 + 1, authFailedAudited: audited } });
});

test('listen_nonLoopbackWithoutTls_isRefused_unlessInsecureListenIsExplicit', async () => {
  const port = await freePort();
  // a database of its own, not the suite's (removed with ws.dir on SQLite)
  const listenDir = join(ws.dir, 'listen');
  mkdirSync(listenDir);
  const db = await testDatabase(listenDir);
  for (const host of ['0.0.0.0', '::', '192.0.2.1']) {
    const r = cli(['start', '--config', ws.policyPath, ...db.args, '--port', String(port), '--host', host], { timeoutMs: 10_000 });
    assert.equal(r.code, 2, `--host ${host}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /refusing to listen/);
  }
  const env = cli(['start', '--config', ws.policyPath, ...db.args, '--port', String(port)], {
    env: { ELEVATE_HOST: '0.0.0.0' },
    timeoutMs: 10_000,
  });
  assert.equal(env.code, 2, 'ELEVATE_HOST=0.0.0.0 is refused too');
  const open = await spawnServer({ policyPath: ws.policyPath, dbPath: db.spec, args: [...beyondDb(db), '--host', '0.0.0.0', '--insecure-listen'] });
  assert.equal((await call(open.url, null, 'GET', '/healthz')).status, 200);
  await open.stop();
});

test('eventStream_tokenRevokedFromTheCli_closesTheStreamWithin20s', async () => {
  const ms = await sseClosed;
  report('security', { sseClosedAfterRevokeMs: ms });
  assert.ok(ms <= 20_000, `stream still open ${ms} ms after its token was revoked`);
  const r = await call(server.url, sseToken.token, 'GET', '/v1/events');
  assert.equal(r.status, 401, 'and it cannot reconnect');
});

test('files_holdingSecrets_areOwnerOnly_serverKeyAndDemoTokens', async (t) => {
  const key = join(ws.dir, 'server.key');
  assert.ok(existsSync(key), 'the server created its key next to the database');
  assert.equal(statSync(key).mode & 0o777, 0o600, 'server.key');
  // the demo writes fresh tokens for the editor to pick up: owner-only as well
  const dir = tempDir('elevate-demo-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const demo = spawn(process.execPath, [SERVER_JS, 'demo', '--port', String(port), '--host', '127.0.0.1'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ELEVATE_CONFIG: '', ELEVATE_DB: '' },
  });
  let out = '';
  demo.stdout.on('data', (d: Buffer) => (out += d));
  demo.stderr.on('data', (d: Buffer) => (out += d));
  const file = join(dir, '.elevate', 'demo-tokens.json');
  const t0 = Date.now();
  while (!existsSync(file) && Date.now() - t0 < 15_000 && demo.exitCode === null) await sleep(100);
  try {
    assert.ok(existsSync(file), `demo-tokens.json written (${out.slice(0, 300)})`);
    assert.equal(statSync(file).mode & 0o777, 0o600, 'demo-tokens.json');
    for (const tk of Object.values((JSON.parse(readFileSync(file, 'utf8')) as { tokens: Record<string, string> }).tokens)) secrets.add(tk);
  } finally {
    demo.kill('SIGKILL');
  }
});

test('secrets_afterTheRun_noTokenInLogsAuditErrorsOrDatabaseFiles', async () => {
  await server.stop(); // graceful: flushes batched audits
  const places: Record<string, string> = {
    'server output': server.output(),
    // every table, audit details included (on PostgreSQL there are no files of ours to read)
    'database rows': await withSql(ws.db, (db) => db.allRowsText(), { readonly: true }),
    'response bodies': bodies.join('\n'),
  };
  for (const name of ['elevate.db', 'elevate.db-wal', 'elevate.db-shm', 'server.key']) {
    const f = join(ws.dir, name);
    if (existsSync(f)) places[`file ${name}`] = readFileSync(f).toString('latin1');
  }
  const found: string[] = [];
  for (const s of secrets) {
    const secretPart = s.slice(4); // without the public "elv_" prefix
    for (const [where, text] of Object.entries(places)) if (text.includes(secretPart)) found.push(`${s.slice(0, 10)}… in ${where}`);
  }
  report('security', { secretsScanned: secrets.size, places: Object.keys(places).length, found: found.length });
  assert.ok(secrets.size > 50);
  assert.deepEqual(found, []);
});
