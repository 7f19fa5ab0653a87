// The authorization matrix: every route of the contract's HTTP API × every kind of caller, with
// the status the contract promises. 404 for what the caller may not see, 403 for what they see
// but may not do (self_approval when deciding their own request), 401 without a valid token.
//
// The subject of every row is resource prod-db (approvers: group dba = bob, 1 approval, every
// extension needs approval). Each cell gets its own fresh request or grant, so no cell depends
// on what another did.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { access, errorCode, loggedEvents, makeServer, type TestServer } from '../helpers/server.js';

const CALLERS = {
  owner: 'alice', // the requester / grant owner
  other: 'dave', // another requester: may not see alice's things
  approver: 'bob', // approver of prod-db
  otherApprover: 'erin', // approver of prod-k8s and incident, not prod-db
  admin: 'carol',
  auditor: 'audrey',
  service: 'svc',
  noToken: null,
  badToken: 'bad',
} as const;
type Caller = keyof typeof CALLERS;
const ORDER = Object.keys(CALLERS) as Caller[];

/** expected status, or [status, error code] */
type Cell = number | [number, string];
type Row = Record<Caller, Cell>;

const U: [number, string] = [401, 'unauthenticated'];
const F: [number, string] = [403, 'forbidden'];
const N: [number, string] = [404, 'not_found'];
const SELF: [number, string] = [403, 'self_approval'];
const anyone = (s: number): Row => ({ owner: s, other: s, approver: s, otherApprover: s, admin: s, auditor: s, service: s, noToken: s, badToken: s });
const anyUser = (s: number): Row => ({ ...anyone(s), noToken: U, badToken: U });

interface Fixture {
  requestId: string;
  grantId: string;
}

interface Route {
  name: string;
  /** what each cell needs before the call */
  needs?: 'request' | 'grant';
  method: string;
  path: (f: Fixture) => string;
  body?: unknown;
  expect: Row;
}

// prettier-ignore
const MATRIX: Route[] = [
  { name: 'GET /healthz', method: 'GET', path: () => '/healthz', expect: anyone(200) },
  { name: 'GET /openapi.json', method: 'GET', path: () => '/openapi.json', expect: anyone(200) },
  { name: 'GET /v1/me', method: 'GET', path: () => '/v1/me', expect: anyUser(200) },
  { name: 'GET /v1/resources', method: 'GET', path: () => '/v1/resources', expect: anyUser(200) },
  {
    // everyone may request; bob is prod-db's only approver, so his own request could never be approved (422)
    name: 'POST /v1/requests', method: 'POST', path: () => '/v1/requests', body: access('prod-db', 'read', 600),
    expect: { ...anyUser(201), approver: [422, 'policy_violation'] },
  },
  { name: 'POST /v1/requests?dryRun=true', method: 'POST', path: () => '/v1/requests?dryRun=true', body: access('prod-db', 'read', 600), expect: anyUser(200) },
  { name: 'GET /v1/requests?scope=mine', method: 'GET', path: () => '/v1/requests?scope=mine', expect: anyUser(200) },
  { name: 'GET /v1/requests?scope=reviewable', method: 'GET', path: () => '/v1/requests?scope=reviewable', expect: anyUser(200) },
  {
    name: 'GET /v1/requests/:id', needs: 'request', method: 'GET', path: (f) => `/v1/requests/${f.requestId}`,
    expect: { owner: 200, other: N, approver: 200, otherApprover: N, admin: 200, auditor: 200, service: N, noToken: U, badToken: U },
  },
  {
    name: 'POST /v1/requests/:id/approve', needs: 'request', method: 'POST', path: (f) => `/v1/requests/${f.requestId}/approve`, body: { comment: 'ok' },
    expect: { owner: SELF, other: N, approver: 200, otherApprover: N, admin: F, auditor: F, service: N, noToken: U, badToken: U },
  },
  {
    name: 'POST /v1/requests/:id/deny', needs: 'request', method: 'POST', path: (f) => `/v1/requests/${f.requestId}/deny`, body: { reason: 'no' },
    expect: { owner: SELF, other: N, approver: 200, otherApprover: N, admin: F, auditor: F, service: N, noToken: U, badToken: U },
  },
  {
    name: 'POST /v1/requests/:id/cancel', needs: 'request', method: 'POST', path: (f) => `/v1/requests/${f.requestId}/cancel`,
    expect: { owner: 200, other: N, approver: F, otherApprover: N, admin: F, auditor: F, service: N, noToken: U, badToken: U },
  },
  { name: 'GET /v1/grants?scope=mine', method: 'GET', path: () => '/v1/grants?scope=mine', expect: anyUser(200) },
  {
    name: 'GET /v1/grants?scope=all', method: 'GET', path: () => '/v1/grants?scope=all',
    expect: { owner: F, other: F, approver: 200, otherApprover: 200, admin: 200, auditor: 200, service: F, noToken: U, badToken: U },
  },
  {
    name: 'GET /v1/grants/:id', needs: 'grant', method: 'GET', path: (f) => `/v1/grants/${f.grantId}`,
    expect: { owner: 200, other: N, approver: 200, otherApprover: N, admin: 200, auditor: 200, service: N, noToken: U, badToken: U },
  },
  {
    // only the owner may read a grant's secrets; prod-db's provider is "none", so it has none (409)
    name: 'GET /v1/grants/:id/credentials', needs: 'grant', method: 'GET', path: (f) => `/v1/grants/${f.grantId}/credentials`,
    expect: { owner: [409, 'conflict'], other: N, approver: F, otherApprover: N, admin: F, auditor: F, service: N, noToken: U, badToken: U },
  },
  {
    // prod-db: every extension needs approval, so the owner gets 202 and a pending request
    name: 'POST /v1/grants/:id/extend', needs: 'grant', method: 'POST', path: (f) => `/v1/grants/${f.grantId}/extend`, body: { durationSeconds: 600 },
    expect: { owner: 202, other: N, approver: F, otherApprover: N, admin: F, auditor: F, service: N, noToken: U, badToken: U },
  },
  {
    name: 'POST /v1/grants/:id/relinquish', needs: 'grant', method: 'POST', path: (f) => `/v1/grants/${f.grantId}/relinquish`,
    expect: { owner: 200, other: N, approver: F, otherApprover: N, admin: F, auditor: F, service: N, noToken: U, badToken: U },
  },
  {
    name: 'POST /v1/grants/:id/revoke', needs: 'grant', method: 'POST', path: (f) => `/v1/grants/${f.grantId}/revoke`, body: { reason: 'done' },
    expect: { owner: F, other: N, approver: 200, otherApprover: N, admin: 200, auditor: F, service: N, noToken: U, badToken: U },
  },
  {
    name: 'GET /v1/check', method: 'GET', path: () => '/v1/check?userId=alice&resourceId=prod-db&role=read',
    expect: { owner: F, other: F, approver: F, otherApprover: F, admin: 200, auditor: F, service: 200, noToken: U, badToken: U },
  },
  { name: 'GET /v1/audit', method: 'GET', path: () => '/v1/audit', expect: anyUser(200) },
  {
    name: 'GET /v1/audit/verify', method: 'GET', path: () => '/v1/audit/verify',
    expect: { owner: F, other: F, approver: F, otherApprover: F, admin: 200, auditor: 200, service: F, noToken: U, badToken: U },
  },
  { name: 'GET /v1/events', method: 'GET', path: () => '/v1/events', expect: anyUser(200) },
];

let s: TestServer;
before(async () => {
  s = await makeServer({ options: { heartbeatMs: 50 } });
});
after(async () => {
  await s?.close();
});

async function pendingRequest(): Promise<string> {
  const r = await s.call('alice', 'POST', '/v1/requests', access('prod-db', 'read', 1800));
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.request.status, 'pending');
  return r.body.request.id;
}

async function activeGrant(): Promise<string> {
  const id = await pendingRequest();
  const r = await s.call('bob', 'POST', `/v1/requests/${id}/approve`, {});
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.grant.id;
}

async function callAs(caller: Caller, method: string, path: string, body?: unknown): Promise<{ status: number; code?: string }> {
  const who = CALLERS[caller];
  const headers: Record<string, string> = {};
  if (caller === 'badToken') headers.authorization = `Bearer elv_${'A'.repeat(43)}`;
  if (method === 'GET' && path === '/v1/events') {
    const res = await s.services.app.request(path, { headers: who && caller !== 'badToken' ? { authorization: `Bearer ${s.tokens[who]}` } : headers });
    await res.body?.cancel();
    return { status: res.status, ...(res.status >= 400 && { code: 'unauthenticated' }) };
  }
  const r = await s.call(caller === 'badToken' ? null : who, method, path, body, headers);
  return { status: r.status, ...(r.status >= 400 && { code: errorCode(r) }) };
}

describe('authorization matrix (route × caller)', () => {
  for (const route of MATRIX) {
    test(route.name, async () => {
      const actual: Partial<Record<Caller, Cell>> = {};
      const expected: Partial<Record<Caller, Cell>> = {};
      for (const caller of ORDER) {
        const f: Fixture = { requestId: '', grantId: '' };
        if (route.needs === 'request') f.requestId = await pendingRequest();
        if (route.needs === 'grant') f.grantId = await activeGrant();
        const r = await callAs(caller, route.method, route.path(f), route.body);
        const want = route.expect[caller];
        expected[caller] = want;
        actual[caller] = Array.isArray(want) ? [r.status, r.code ?? ''] : r.status;
      }
      assert.deepEqual(actual, expected);
    });
  }

  test('the matrix covers every route the server documents in /openapi.json', async () => {
    const doc = await s.call(null, 'GET', '/openapi.json');
    const documented = Object.entries(doc.body.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
    );
    const covered = new Set(MATRIX.map((r) => r.name.replace(/\?.*$/, '')));
    assert.deepEqual(
      documented.filter((d) => !covered.has(d)),
      [],
      'routes missing from the matrix',
    );
  });

  test('an id that does not exist is 404 for everyone, admin included', async () => {
    for (const caller of ['owner', 'approver', 'admin', 'auditor'] as Caller[]) {
      for (const [method, path] of [
        ['GET', '/v1/requests/req_doesnotexist'],
        ['POST', '/v1/requests/req_doesnotexist/cancel'],
        ['GET', '/v1/grants/grt_doesnotexist'],
        ['POST', '/v1/grants/grt_doesnotexist/relinquish'],
      ]) {
        const r = await callAs(caller, method, path);
        assert.deepEqual([r.status, r.code], [404, 'not_found'], `${caller} ${method} ${path}`);
      }
    }
  });

  test('an approver who is also the requester gets self_approval on their own request', async () => {
    // bob approves prod-db but asks for it himself: nobody else in dba, so it cannot be approved → 422
    const refused = await s.call('bob', 'POST', '/v1/requests', access('prod-db', 'read', 600));
    assert.equal(refused.status, 422);
    // erin asks for incident (sre approves; frank can decide it), then tries to decide it herself
    const r = await s.call('erin', 'POST', '/v1/requests', access('incident', 'admin', 600));
    assert.equal(r.status, 201);
    for (const verb of ['approve', 'deny']) {
      const d = await s.call('erin', 'POST', `/v1/requests/${r.body.request.id}/${verb}`, verb === 'deny' ? { reason: 'x' } : {});
      assert.deepEqual([d.status, errorCode(d)], [403, 'self_approval'], verb);
    }
    const ok = await s.call('frank', 'POST', `/v1/requests/${r.body.request.id}/approve`, {});
    assert.equal(ok.status, 200);
  });

  test('lists only show what the caller may see', async () => {
    const reqId = await pendingRequest();
    const mine = await s.call('dave', 'GET', '/v1/requests?scope=mine');
    assert.ok(!mine.body.requests.some((r: { id: string }) => r.id === reqId), 'dave sees alice’s request in scope=mine');
    const reviewableByErin = await s.call('erin', 'GET', '/v1/requests?scope=reviewable');
    assert.ok(!reviewableByErin.body.requests.some((r: { id: string }) => r.id === reqId), 'erin may not review prod-db');
    const reviewableByBob = await s.call('bob', 'GET', '/v1/requests?scope=reviewable');
    assert.ok(
      reviewableByBob.body.requests.some((r: { id: string }) => r.id === reqId),
      'bob reviews prod-db',
    );
    const reviewableByAlice = await s.call('alice', 'GET', '/v1/requests?scope=reviewable');
    assert.deepEqual(reviewableByAlice.body.requests, [], 'a requester never reviews their own');

    const grantId = await activeGrant();
    const allForErin = await s.call('erin', 'GET', '/v1/grants?scope=all');
    assert.ok(!allForErin.body.grants.some((g: { id: string }) => g.id === grantId), 'erin sees prod-db grants');
    const allForBob = await s.call('bob', 'GET', '/v1/grants?scope=all');
    assert.ok(allForBob.body.grants.some((g: { id: string }) => g.id === grantId));
    const mineForDave = await s.call('dave', 'GET', '/v1/grants?scope=mine');
    assert.ok(!mineForDave.body.grants.some((g: { id: string }) => g.id === grantId));
  });

  test('failedSignIns_areRateLimitedPerClient_with429_andAudited', async () => {
    const t = await makeServer({ options: { authFailuresPerMinute: 3 } });
    try {
      const wrong = { authorization: `Bearer elv_${'B'.repeat(43)}` };
      for (let i = 0; i < 3; i++) assert.equal((await t.call(null, 'GET', '/v1/me', undefined, wrong)).status, 401);
      const limited = await t.call(null, 'GET', '/v1/me', undefined, wrong);
      assert.deepEqual([limited.status, errorCode(limited)], [429, 'rate_limited']);
      assert.equal((await t.call('alice', 'GET', '/v1/me')).status, 200, 'a valid token from the same client is never refused');
      await t.services.batcher.flush();
      const failed = await loggedEvents(t, { action: 'auth.failed' });
      assert.equal(failed.length, 3);
      assert.ok(
        failed.every((f) => !JSON.stringify(f.details).includes('elv_')),
        'the presented token is never audited',
      );
      await t.advance(60_000);
      assert.equal((await t.call(null, 'GET', '/v1/me', undefined, wrong)).status, 401, 'the window passes');
    } finally {
      await t.close();
    }
  });

  test('tokens_expire_andAreStoredOnlyAsHashes', async () => {
    const { token } = await s.services.tokens.issue('dave', { ttlSeconds: 60, actorId: 'test' });
    const me = () => s.services.app.request('/v1/me', { headers: { authorization: `Bearer ${token}` } });
    assert.equal((await me()).status, 200);
    await s.advance(60_000);
    assert.equal((await me()).status, 401);
    const rows = await s.sql.all('SELECT * FROM tokens');
    // every stored byte as text (JSON.stringify would turn a Buffer into a list of numbers first)
    const text = rows.map((r) => Object.values(r).map((v) => (Buffer.isBuffer(v) ? v.toString('latin1') : String(v)))).join('\n');
    for (const t of [token, ...Object.values(s.tokens)]) assert.ok(!text.includes(t) && !text.includes(t.slice(4)), 'a token is stored in clear');
  });

  test('approvers get the requester history; the requester does not', async () => {
    const id = await pendingRequest();
    const asBob = await s.call('bob', 'GET', `/v1/requests/${id}`);
    assert.ok(Array.isArray(asBob.body.requesterHistory));
    assert.ok(asBob.body.requesterHistory.length <= 10);
    assert.ok(asBob.body.requesterHistory.every((r: { requesterId: string; id: string }) => r.requesterId === 'alice' && r.id !== id));
    const asAlice = await s.call('alice', 'GET', `/v1/requests/${id}`);
    assert.equal(asAlice.body.requesterHistory, undefined);
  });
});
