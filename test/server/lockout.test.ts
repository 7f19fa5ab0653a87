// The failed-sign-in limiter must never refuse a valid token (security review, high): anonymous
// requests, CORS preflights and wrong tokens from one address, or from one client behind a
// shared proxy, may only ever slow down that client's wrong tokens.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loggedEvents, makeServer, type TestServer } from '../helpers/server.js';
import { TEST_POLICY } from '../helpers/policy.js';
import { rawRequest } from '../reliability/lib.js';

const LIMIT = 5;
const wrongToken = () => `Bearer elv_${'W'.repeat(43)}`;

async function withServer(policy: string, fn: (t: TestServer, url: string) => Promise<void>): Promise<void> {
  const t = await makeServer({ policy, options: { authFailuresPerMinute: LIMIT } });
  const { url } = await t.listen();
  try {
    await fn(t, url);
  } finally {
    await t.close();
  }
}

async function failedSignIns(t: TestServer): Promise<{ ip: string; reason: string }[]> {
  return (await loggedEvents(t, { action: 'auth.failed' })).map(({ details: { ip, reason } }) => {
    assert.ok(typeof ip === 'string' && typeof reason === 'string', 'auth.failed names the address and the reason');
    return { ip, reason };
  });
}

describe('direct clients (no trusted proxy)', () => {
  let t: TestServer;
  let url: string;
  let close: () => Promise<void>;
  before(async () => {
    t = await makeServer({ options: { authFailuresPerMinute: LIMIT } });
    ({ url, close } = await t.listen());
  });
  after(async () => {
    await close();
    await t.close();
  });

  test('anonymousRequestsAndPreflights_neverLockOutAValidToken_andAreNotAudited', async () => {
    const from = '127.0.0.21';
    for (let i = 0; i < 4 * LIMIT; i++) {
      const anon = await rawRequest(url, { path: '/v1/me', localAddress: from });
      assert.equal(anon.status, 401);
      const preflight = await rawRequest(url, {
        method: 'OPTIONS',
        path: '/v1/requests',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
        localAddress: from,
      });
      assert.ok(preflight.status >= 400 && preflight.status !== 429, `preflight answered ${preflight.status}`);
    }
    for (const path of ['/v1/me', '/v1/check?userId=alice&resourceId=prod-db&role=read']) {
      const user = path.startsWith('/v1/check') ? 'svc' : 'alice';
      const ok = await rawRequest(url, { path, headers: { authorization: `Bearer ${t.tokens[user]}` }, localAddress: from });
      assert.equal(ok.status, 200, `${path} with a valid token after an anonymous flood`);
    }
    assert.equal((await failedSignIns(t)).filter((f) => f.ip.endsWith(from)).length, 0, 'requests without a token are not sign-in attempts');
  });

  test('wrongTokens_blockOnlyFurtherWrongTokens_aValidTokenFromTheSameClientStillWorks', async () => {
    const from = '127.0.0.22';
    const statuses: number[] = [];
    for (let i = 0; i < 2 * LIMIT; i++) {
      statuses.push((await rawRequest(url, { path: '/v1/me', headers: { authorization: wrongToken() }, localAddress: from })).status);
    }
    assert.deepEqual(statuses, [...Array(LIMIT).fill(401), ...Array(LIMIT).fill(429)]);
    const valid = await rawRequest(url, { path: '/v1/me', headers: { authorization: `Bearer ${t.tokens.alice}` }, localAddress: from });
    assert.equal(valid.status, 200, 'a valid token is never refused because of failures');
    const audited = (await failedSignIns(t)).filter((f) => f.ip.endsWith(from));
    assert.equal(audited.length, LIMIT, 'failures are audited until the block, then bounded');
    await t.advance(60_000);
    assert.equal((await rawRequest(url, { path: '/v1/me', headers: { authorization: wrongToken() }, localAddress: from })).status, 401, 'the window passes');
  });

  test('forwardedFor_fromAnUntrustedPeer_isIgnored_soItCannotDodgeTheLimitOrForgeTheAudit', async () => {
    const from = '127.0.0.23';
    const statuses: number[] = [];
    for (let i = 0; i <= LIMIT; i++) {
      const forged = { authorization: wrongToken(), 'x-forwarded-for': `198.51.100.${i}` };
      statuses.push((await rawRequest(url, { path: '/v1/me', headers: forged, localAddress: from })).status);
    }
    assert.equal(statuses.at(-1), 429, `forged X-Forwarded-For must not reset the limit: ${statuses.join(',')}`);
    assert.ok((await failedSignIns(t)).filter((f) => f.ip.includes('198.51.100.')).length === 0, 'the audit records the real peer');
  });
});

describe('behind a trusted proxy (server.trustedProxies)', () => {
  const policy = `${TEST_POLICY}\nserver:\n  trustedProxies: [127.0.0.31/32, "10.0.0.0/8"]\n`;

  test('oneClientBehindTheProxy_isLimitedAlone_otherClientsOfTheSameProxyAreNot', () =>
    withServer(policy, async (t, url) => {
      const proxy = '127.0.0.31';
      const via = (client: string, auth: string) =>
        rawRequest(url, { path: '/v1/me', headers: { authorization: auth, 'x-forwarded-for': client }, localAddress: proxy });
      for (let i = 0; i < LIMIT; i++) assert.equal((await via('203.0.113.9', wrongToken())).status, 401);
      assert.equal((await via('203.0.113.9', wrongToken())).status, 429, 'the guessing client is limited');
      assert.equal((await via('203.0.113.10', wrongToken())).status, 401, 'another client of the same proxy is not');
      assert.equal((await via('203.0.113.9', `Bearer ${t.tokens.alice}`)).status, 200);
      const ips = new Set((await failedSignIns(t)).map((f) => f.ip));
      assert.deepEqual([...ips].sort(), ['203.0.113.10', '203.0.113.9'], 'the audit names the client, not the proxy');
    }));

  test('forwardedChain_isWalkedFromTheRight_throughTrustedHopsOnly', () =>
    withServer(policy, async (t, url) => {
      // a client that writes its own X-Forwarded-For cannot choose the address: the trusted
      // proxy appended the real one, which is the rightmost untrusted hop
      const headers = { authorization: wrongToken(), 'x-forwarded-for': '192.0.2.66, 203.0.113.50, 10.1.2.3' };
      assert.equal((await rawRequest(url, { path: '/v1/me', headers, localAddress: '127.0.0.31' })).status, 401);
      assert.deepEqual(
        (await failedSignIns(t)).map((f) => f.ip),
        ['203.0.113.50'],
      );
    }));

  test('actionsAreAuditedWithTheClientAddress_behindTheProxy', () =>
    withServer(policy, async (t, url) => {
      const body = JSON.stringify({ resourceId: 'staging-db', role: 'read', durationSeconds: 600, justification: 'lockout test' });
      const r = await rawRequest(url, {
        method: 'POST',
        path: '/v1/requests',
        headers: { authorization: `Bearer ${t.tokens.alice}`, 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.77' },
        body,
        localAddress: '127.0.0.31',
      });
      assert.equal(r.status, 201, r.text);
      const [created] = await loggedEvents(t, { action: 'request.created' });
      assert.ok(created, 'request.created audited');
      assert.match(JSON.stringify(created.details), /203\.0\.113\.77/);
    }));
});
