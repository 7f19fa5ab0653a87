// Sign-in through the company's OpenID provider: a real oidc-provider and Elevate on loopback,
// driven over HTTP by an editor (the RFC 8628 device grant) and a browser keeping cookies.
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Browser, field } from '../helpers/browser.js';
import { api, confirmCode, logInAtIdp, poll, post, signIn, signInInBrowser, startDevice, startOidcWorld, type OidcWorld } from '../helpers/oidc.js';
import { disableUser } from '../../server/identity/service.js';
import { openEvents } from '../helpers/sse.js';
import { openTestStore } from '../helpers/server.js';
import { AuthConfigResponse } from '../../server/protocol/auth.js';

// A fresh IdP and server per test: the server's fake clock starts at the real time, which the
// IdP stamps its tokens with, and tests move it only after the IdP's part is done.
let w: OidcWorld;
beforeEach(async () => {
  w = await startOidcWorld({ sessionTtl: '15m', options: { heartbeatMs: 50 } });
});
afterEach(async () => w && (await w.close()));

/** newest first */
const auditOf = async (action: string) => {
  await w.s.services.batcher.flush();
  return (await w.s.store.read((tx) => tx.audit.query({ action, limit: 1000 }))).events.map((e) => ({ ...e, details: e.details as Record<string, any> }));
};
const lastFailure = async () => (await auditOf('auth.failed'))[0]?.details;

describe('the device flow, end to end', () => {
  test('config_withOidc_offersTheDeviceFlowAndTokens', async () => {
    const r = AuthConfigResponse.parse(await fetch(`${w.url}/v1/auth/config`).then((x) => x.json()));
    assert.deepEqual(r.methods, ['oidc-device', 'token']);
    assert.equal(r.oidc?.issuer, w.idp.issuer);
    assert.equal(r.oidc?.verificationUri, `${w.url}/auth/device`);
    assert.equal(r.sessionTtlSeconds, 900);
  });

  test('deviceCode_isAnsweredAsRfc8628Says', async () => {
    const d = await startDevice(w);
    assert.match(d.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    assert.equal(d.verification_uri, `${w.url}/auth/device`);
    assert.equal(d.verification_uri_complete, `${w.url}/auth/device?user_code=${d.user_code}`);
    assert.equal(d.expires_in, 600);
    assert.equal(d.interval, 5);
    const row = (await w.s.sql.get<{ device_hash: Buffer; user_code_hash: Buffer }>(
      'SELECT device_hash, user_code_hash FROM device_codes ORDER BY created_at DESC LIMIT 1',
    ))!;
    assert.ok(!row.device_hash.toString('latin1').includes(d.device_code), 'only a hash of the device code is stored');
    assert.equal(row.user_code_hash.length, 32);
  });

  test('signIn_throughTheBrowser_givesASessionWithTheIdpGroupsAndMappedRoles', async () => {
    const d = await startDevice(w);
    assert.equal((await poll(w, d.device_code)).body.error, 'authorization_pending');
    const page = await signInInBrowser(w, d.verification_uri_complete, 'carol');
    assert.equal(page.status, 200);
    assert.match(page.text, /Signed in as <strong>carol<\/strong> — return to your editor/);
    await w.s.advance(5_000);
    const r = await poll(w, d.device_code);
    assert.equal(r.status, 200);
    assert.equal(r.body.token_type, 'Bearer');
    assert.equal(r.body.expires_in, 900);
    const me = await api(w, r.body.access_token, 'GET', '/v1/me');
    assert.equal(me.status, 200);
    assert.deepEqual(me.body.user, { id: 'carol', name: 'Carol Danvers', groups: ['engineering', 'elevate-admins'], roles: ['admin'], approverOf: [] });
    const signedIn = (await auditOf('auth.signed_in'))[0]!;
    assert.equal(signedIn.actorId, 'carol');
    assert.equal(signedIn.details.issuer, w.idp.issuer);
    assert.equal(signedIn.details.subject, 'carol');
    assert.deepEqual(signedIn.details.groups, ['engineering', 'elevate-admins']);
    const stored = (await w.s.sql.get<{ hash: Buffer; label: string }>('SELECT hash, label FROM tokens WHERE id = ?', signedIn.details.tokenId))!;
    assert.equal(stored.label, 'sso');
    assert.ok(!stored.hash.toString('latin1').includes(r.body.access_token), 'the session token is stored as a hash');
  });

  test('approversNamedByGroup_includeIdpUsersWhoseLastSignInPutThemThere', async () => {
    const alice = await signIn(w, 'alice');
    const tooEarly = await api(w, alice, 'POST', '/v1/requests', { resourceId: 'prod-db', role: 'read', durationSeconds: 600, justification: 'incident 42' });
    assert.equal(tooEarly.status, 422, 'nobody in dba has signed in yet: no approver is known');
    const bob = await signIn(w, 'bob');
    const created = await api(w, alice, 'POST', '/v1/requests', { resourceId: 'prod-db', role: 'read', durationSeconds: 600, justification: 'incident 42' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const reviewable = await api(w, bob, 'GET', '/v1/requests?scope=reviewable');
    assert.deepEqual(
      reviewable.body.requests.map((r: { id: string }) => r.id),
      [created.body.request.id],
    );
    const approved = await api(w, bob, 'POST', `/v1/requests/${created.body.request.id}/approve`, {});
    assert.equal(approved.status, 200);
    assert.equal(approved.body.grant.userId, 'alice');
  });

  test('deviceCode_isSingleUse_aSecondPollAfterSuccessIsInvalidGrant', async () => {
    const d = await startDevice(w);
    await signInInBrowser(w, d.verification_uri_complete, 'alice');
    assert.equal((await poll(w, d.device_code)).status, 200);
    await w.s.advance(5_000);
    const again = await poll(w, d.device_code);
    assert.equal(again.status, 400);
    assert.equal(again.body.error, 'invalid_grant');
  });

  test('polling_fasterThanTheInterval_isSlowDown_andTheIntervalGrowsBy5s', async () => {
    const d = await startDevice(w);
    assert.equal((await poll(w, d.device_code)).body.error, 'authorization_pending');
    await w.s.advance(4_999);
    assert.equal((await poll(w, d.device_code)).body.error, 'slow_down');
    await w.s.advance(9_999); // the interval is now 10 s
    const tooSoon = await poll(w, d.device_code);
    assert.equal(tooSoon.body.error, 'slow_down');
    assert.match(tooSoon.body.error_description, /15 seconds/);
    await w.s.advance(15_000);
    assert.equal((await poll(w, d.device_code)).body.error, 'authorization_pending');
  });

  test('deviceCode_afterTenMinutes_isExpiredToken_andItsPageSaysSo', async () => {
    const d = await startDevice(w);
    await w.s.advance(600_000);
    const r = await poll(w, d.device_code);
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'expired_token');
    const page = await new Browser().browse(d.verification_uri_complete);
    assert.equal(page.status, 400);
    assert.match(page.text, /This code has expired/);
  });

  test('token_withAnUnknownDeviceCodeOrGrantType_isRefusedWithTheOauthError', async () => {
    assert.equal((await poll(w, 'not-a-code')).body.error, 'invalid_grant');
    const r = await post(w.url, '/v1/auth/token', { grant_type: 'authorization_code', device_code: 'x' });
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'unsupported_grant_type');
  });
});

describe('who may sign in', () => {
  test('someoneInNoAllowedGroup_isRefused_audited_andTheEditorHearsAccessDenied', async () => {
    const d = await startDevice(w);
    const page = await signInInBrowser(w, d.verification_uri_complete, 'mallory');
    assert.equal(page.status, 400);
    assert.match(page.text, /mallory is in none of the groups allowed to sign in \(engineering\)/);
    const r = await poll(w, d.device_code);
    assert.equal(r.body.error, 'access_denied');
    assert.match(r.body.error_description, /none of the groups allowed/);
    assert.match((await lastFailure())!.reason, /mallory is in none of the groups/);
  });

  test('aDisabledUser_hasTokensRefused_streamsClosed_andCannotSignInAgain', async () => {
    const token = await signIn(w, 'dave');
    const stream = await openEvents(w.url, token);
    assert.equal(stream.status, 200);
    // what `elevate-server user disable dave` does: its own store (connection) and commit; the
    // server's group commit goes first (in one process, the CLI's wait for the lock would block it)
    await w.s.store.transaction(async () => {});
    const cli = await openTestStore(w.s.db, { role: 'cli' });
    try {
      const r = await disableUser(cli, Date.now(), 'dave', 'cli', 'left the company');
      assert.equal(r.tokensRevoked.length, 1);
    } finally {
      await cli.close();
    }
    // the server hears of another process's commit (SQLite: its data_version poll) and reads the log
    await w.s.services.follow();
    assert.equal((await api(w, token, 'GET', '/v1/me')).status, 401);
    await stream.ended; // at the next heartbeat
    const d = await startDevice(w);
    const page = await signInInBrowser(w, d.verification_uri_complete, 'dave');
    assert.equal(page.status, 400);
    assert.match(page.text, /dave is disabled on this server/);
    assert.equal((await poll(w, d.device_code)).body.error, 'access_denied');
    assert.equal((await auditOf('user.disabled'))[0]!.details.userId, 'dave');
  });
});

describe('sessions', () => {
  test('aSession_endsAtSessionTtl', async () => {
    const token = await signIn(w, 'erin');
    assert.equal((await api(w, token, 'GET', '/v1/me')).status, 200);
    await w.s.advance(900_000 - 1);
    assert.equal((await api(w, token, 'GET', '/v1/me')).status, 200);
    await w.s.advance(1);
    assert.equal((await api(w, token, 'GET', '/v1/me')).status, 401);
  });

  test('logout_endsTheSessionAndItsStreams_andIsAudited', async () => {
    const token = await signIn(w, 'alice');
    const stream = await openEvents(w.url, token);
    const r = await api(w, token, 'POST', '/v1/auth/logout');
    assert.equal(r.status, 200);
    await stream.ended;
    assert.equal((await api(w, token, 'GET', '/v1/me')).status, 401, 'a replayed session token is refused');
    const out = (await auditOf('auth.signed_out'))[0]!;
    assert.equal(out.actorId, 'alice');
  });

  test('logout_withAnApiToken_isAConflict_andTheTokenKeepsWorking', async () => {
    const r = await api(w, w.s.tokens.svc, 'POST', '/v1/auth/logout');
    assert.equal(r.status, 409);
    assert.match(r.body.error.message, /API token, not a sign-in session/);
    assert.equal((await api(w, w.s.tokens.svc, 'GET', '/v1/me')).status, 200);
  });
});

describe('attacks on the browser steps', () => {
  test('aTamperedState_isRefusedAndAudited', async () => {
    const b = new Browser();
    const d = await startDevice(w);
    const callback = await logInAtIdp(b, w, await confirmCode(b, d.verification_uri_complete), 'alice', 'alice-demo', { stopAtCallback: true });
    const u = new URL(callback.url);
    u.searchParams.set('state', `${u.searchParams.get('state')}x`);
    const page = await b.browse(u.href);
    assert.equal(page.status, 400);
    assert.match(page.text, /does not match any sign-in started here \(unknown state\)/);
    assert.match((await lastFailure())!.reason, /unknown state/);
    assert.equal((await poll(w, d.device_code)).body.error, 'authorization_pending', 'the real sign-in can still finish');
  });

  test('aReplayedCallback_isRefusedAndAudited', async () => {
    const b = new Browser();
    const d = await startDevice(w);
    const callback = await logInAtIdp(b, w, await confirmCode(b, d.verification_uri_complete), 'alice', 'alice-demo', { stopAtCallback: true });
    assert.equal((await b.browse(callback.url)).status, 200);
    const again = await b.browse(callback.url);
    assert.equal(again.status, 400);
    assert.match(again.text, /already used \(a replayed callback\)/);
    assert.match((await lastFailure())!.reason, /replayed callback/);
  });

  test('loginCsrf_aCallbackOpenedInAnotherBrowser_isRefused', async () => {
    const attacker = new Browser();
    const d = await startDevice(w);
    const callback = await logInAtIdp(attacker, w, await confirmCode(attacker, d.verification_uri_complete), 'alice', 'alice-demo', { stopAtCallback: true });
    const page = await new Browser().browse(callback.url); // the victim's browser, sent the link
    assert.equal(page.status, 400);
    assert.match(page.text, /came to a different browser than the one that started it/);
    assert.match((await lastFailure())!.reason, /different browser/);
  });

  test('aTamperedNonce_isRefusedAndAudited', async () => {
    const b = new Browser();
    const d = await startDevice(w);
    const authorize = await confirmCode(b, d.verification_uri_complete);
    const rewrite = (url: string) => {
      if (!url.startsWith(`${w.idp.issuer}/auth?`)) return url;
      const u = new URL(url);
      u.searchParams.set('nonce', 'chosen-by-the-attacker');
      return u.href;
    };
    const page = await logInAtIdp(b, w, authorize, 'alice', 'alice-demo', { rewrite });
    assert.equal(page.status, 400);
    assert.match(page.text, /ID token was refused: .*nonce/);
    assert.match((await lastFailure())!.reason, /nonce/);
    assert.equal((await poll(w, d.device_code)).body.error, 'access_denied');
  });

  test('anInjectedAuthorizationCode_failsThePkceCheck', async () => {
    // the attacker's code (from their own sign-in) pasted into the victim's callback: the
    // victim's PKCE verifier does not match the challenge the attacker's code was issued for
    const b = new Browser();
    const victim = await startDevice(w);
    const victimCallback = await logInAtIdp(b, w, await confirmCode(b, victim.verification_uri_complete), 'alice', 'alice-demo', { stopAtCallback: true });
    const mallory = new Browser();
    const attacker = await startDevice(w);
    const attackerCallback = await logInAtIdp(mallory, w, await confirmCode(mallory, attacker.verification_uri_complete), 'bob', 'bob-demo', {
      stopAtCallback: true,
    });
    const u = new URL(victimCallback.url);
    u.searchParams.set('code', new URL(attackerCallback.url).searchParams.get('code')!);
    const page = await b.browse(u.href);
    assert.equal(page.status, 400);
    assert.match(page.text, /the IdP refused the authorization code: invalid_grant/);
    assert.match((await lastFailure())!.reason, /invalid_grant/);
  });

  test('codePhishing_aConfirmationPostedFromAnotherSite_isRefused', async () => {
    const b = new Browser();
    const d = await startDevice(w);
    const page = await b.browse(d.verification_uri_complete);
    const form = { user_code: field(page.text, 'user_code'), csrf: field(page.text, 'csrf') };
    const crossSite = await b.request('POST', `${w.url}/auth/device`, form, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' });
    assert.equal(crossSite.status, 403);
    const oldBrowserCrossSite = await b.request('POST', `${w.url}/auth/device`, form, { origin: 'https://evil.example' });
    assert.equal(oldBrowserCrossSite.status, 403, 'without Sec-Fetch-Site, the Origin decides');
    const noToken = await new Browser().request('POST', `${w.url}/auth/device`, form, { origin: w.url, 'sec-fetch-site': 'same-origin' });
    assert.equal(noToken.status, 403, 'another browser has no CSRF cookie');
    const wrongToken = await b.request('POST', `${w.url}/auth/device`, { ...form, csrf: 'guessed' }, { origin: w.url });
    assert.equal(wrongToken.status, 403);
    assert.equal((await poll(w, d.device_code)).body.error, 'authorization_pending');
  });

  test('theVerificationPage_showsTheCodeAndWhereItCameFrom_escaped_underAStrictCsp', async () => {
    const d = await startDevice(w, '<script>alert(1)</script>');
    const page = await new Browser().browse(d.verification_uri_complete);
    assert.equal(page.status, 200);
    assert.match(page.text, new RegExp(`<p class="code" id="user-code">${d.user_code}</p>`));
    assert.match(page.text, /Only continue if you started this sign-in yourself and the code matches the one in your editor/);
    assert.ok(page.text.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.ok(!page.text.includes('<script>'));
    const csp = page.headers.get('content-security-policy')!;
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, new RegExp(`form-action 'self' ${w.idp.issuer}`));
    assert.doesNotMatch(csp, /script-src/);
  });

  test('wrongUserCodes_areRefused_thenRateLimited', async () => {
    const b = new Browser();
    const first = await b.browse(`${w.url}/auth/device?user_code=BBBB-BBBB`);
    assert.equal(first.status, 400);
    assert.match(first.text, /There is no such code/);
    let last = first;
    for (let i = 0; i < 25 && last.status !== 429; i++) last = await b.browse(`${w.url}/auth/device?user_code=BBBB-BBB${'CDFGHJKLMNPQRSTVWXZB'[i % 20]}`);
    assert.equal(last.status, 429);
  });
});
