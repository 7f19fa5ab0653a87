import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ElevateClient, originOf, probeServer } from '../../../extension/api/client';
import { ApiError } from '../../../extension/api/errors';
import { grant, iso, me, request, T0 } from './fakes';

type Call = { url: string; init: RequestInit };
const fakeFetch = (respond: (url: URL, init: RequestInit) => Response) => {
  const calls: Call[] = [];
  const fn = (async (input: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: String(input), init: init ?? {} });
    return respond(new URL(String(input)), init ?? {});
  }) as typeof fetch;
  return { fn, calls };
};
const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

describe('ElevateClient', () => {
  it('me_sendsTheBearerTokenToTheConfiguredOriginOnly', async () => {
    const f = fakeFetch(() => json(200, { user: me() }));
    const c = new ElevateClient({ serverUrl: 'http://127.0.0.1:7410/some/path', token: 't0k', fetch: f.fn });
    assert.equal((await c.me()).id, 'alice');
    assert.equal(f.calls[0].url, 'http://127.0.0.1:7410/v1/me');
    assert.equal((f.calls[0].init.headers as Record<string, string>).authorization, 'Bearer t0k');
    assert.equal(f.calls[0].init.redirect, 'error');
  });
  it('url_pointingToAnotherOrigin_isRefused', () => {
    const c = new ElevateClient({ serverUrl: 'http://127.0.0.1:7410', token: 't' });
    assert.throws(
      () => c.url('//evil.example/v1/me'),
      (e: unknown) => e instanceof ApiError && e.code === 'bad_url',
    );
    assert.throws(() => c.url('https://evil.example/v1/me'), ApiError);
  });
  it('originOf_rejectsNonHttpUrls', () => {
    assert.equal(originOf('https://elevate.example.com/x'), 'https://elevate.example.com');
    assert.throws(() => originOf('file:///etc/passwd'), ApiError);
    assert.throws(() => originOf('not a url'), ApiError);
  });
  it('serverError_becomesApiErrorWithTheServersCodeMessageAndDetails', async () => {
    const f = fakeFetch(() => json(422, { error: { code: 'policy_violation', message: 'over max duration (4h)', details: [{ path: 'durationSeconds' }] } }));
    const c = new ElevateClient({ serverUrl: 'http://x.test', token: 't', fetch: f.fn });
    await assert.rejects(
      c.createRequest({ resourceId: 'prod-db', role: 'read', durationSeconds: 99999, justification: 'x' }),
      (e: unknown) =>
        e instanceof ApiError && e.status === 422 && e.code === 'policy_violation' && e.message === 'over max duration (4h)' && e.details.length === 1,
    );
  });
  it('responseNotMatchingTheSchema_isInvalidResponse', async () => {
    const f = fakeFetch(() => json(200, { user: { id: 5 } }));
    const c = new ElevateClient({ serverUrl: 'http://x.test', token: 't', fetch: f.fn });
    await assert.rejects(c.me(), (e: unknown) => e instanceof ApiError && e.code === 'invalid_response');
  });
  it('networkFailure_isUnreachable', async () => {
    const c = new ElevateClient({
      serverUrl: 'http://x.test',
      token: 't',
      fetch: (async () => {
        throw new TypeError('fetch failed');
      }) as typeof fetch,
    });
    await assert.rejects(c.me(), (e: unknown) => e instanceof ApiError && e.isUnreachable && e.status === 0);
  });
  it('unauthenticated_isRecognised', async () => {
    const f = fakeFetch(() => json(401, { error: { code: 'unauthenticated', message: 'token revoked' } }));
    const c = new ElevateClient({ serverUrl: 'http://x.test', token: 't', fetch: f.fn });
    await assert.rejects(c.me(), (e: unknown) => e instanceof ApiError && e.isUnauthenticated && e.message === 'token revoked');
  });
  it('dryRun_postsWithTheQueryFlag', async () => {
    const f = fakeFetch(() => json(200, { evaluation: { allowed: true, autoApproved: true, autoApproveRule: 0, reasons: [] } }));
    const c = new ElevateClient({ serverUrl: 'http://x.test', token: 't', fetch: f.fn });
    const ev = await c.dryRun({ resourceId: 'auto-db', role: 'read', durationSeconds: 600, justification: 'x' });
    assert.equal(ev.autoApproved, true);
    assert.equal(f.calls[0].url, 'http://x.test/v1/requests?dryRun=true');
    assert.equal(f.calls[0].init.method, 'POST');
  });
  it('extend_200IsApplied_202IsPending', async () => {
    let status = 200;
    const f = fakeFetch(() => (status === 200 ? json(200, { grant: grant() }) : json(202, { request: request({ kind: 'extension' }) })));
    const c = new ElevateClient({ serverUrl: 'http://x.test', token: 't', fetch: f.fn });
    assert.equal((await c.extend('g1', 600)).kind, 'applied');
    status = 202;
    assert.equal((await c.extend('g1', 3600)).kind, 'pending');
    assert.deepEqual(JSON.parse(String(f.calls[0].init.body)), { durationSeconds: 600 });
  });
  it('listGrants_reportsAServerTimeSample', async () => {
    const f = fakeFetch(() => json(200, { grants: [grant()], nextCursor: null, serverTime: iso(T0) }));
    let t = 1000;
    const c = new ElevateClient({ serverUrl: 'http://x.test', token: 't', fetch: f.fn, now: () => (t += 100) });
    let sample: unknown;
    await c.listGrants({ status: 'active' }, (s) => {
      sample = s;
    });
    assert.deepEqual(sample, { serverTime: iso(T0), localMidpoint: 1150, roundTripMs: 100 });
    assert.match(f.calls[0].url, /scope=mine&status=active/);
  });
  it('ids_areEncodedInPaths', async () => {
    const f = fakeFetch(() => json(200, { request: request() }));
    const c = new ElevateClient({ serverUrl: 'http://x.test', token: 't', fetch: f.fn });
    await c.getRequest('../admin?x');
    assert.equal(f.calls[0].url, 'http://x.test/v1/requests/..%2Fadmin%3Fx');
  });
});

describe('probeServer (the sign-in URL step)', () => {
  it('probeServer_anElevateServer_isFine', async () => {
    const f = fakeFetch((url) => (url.pathname === '/healthz' ? json(200, { ok: true }) : json(404, {})));
    assert.equal(await probeServer('http://x.test', f.fn), undefined);
    assert.equal(f.calls[0].url, 'http://x.test/healthz');
    assert.equal(new Headers(f.calls[0].init.headers).get('authorization'), null, 'no token goes to a server not yet known to be Elevate');
  });
  it('probeServer_somethingElse_saysItIsNotAnElevateServer', async () => {
    assert.match((await probeServer('http://x.test', fakeFetch(() => new Response('<html>', { status: 404 })).fn))!, /is not an Elevate server/);
    assert.match((await probeServer('http://x.test', fakeFetch(() => json(200, { status: 'up' })).fn))!, /is not an Elevate server/);
  });
  it('probeServer_nothingListening_saysItCannotBeReached', async () => {
    const down = (async () => {
      throw new TypeError('fetch failed');
    }) as typeof fetch;
    assert.match((await probeServer('http://x.test', down))!, /^Cannot reach http:\/\/x\.test/);
  });
  it('anAnswerWithoutAnElevateErrorBody_404_isNotAnElevateServer_notAnHttpCode', async () => {
    const c = new ElevateClient({ serverUrl: 'http://x.test', token: 't', fetch: fakeFetch(() => new Response('nope', { status: 404 })).fn });
    await assert.rejects(c.me(), (e: ApiError) => e.message === 'http://x.test is not an Elevate server (it has no /v1/me)');
  });
});
