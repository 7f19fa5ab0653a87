// A server without identity.oidc works as before: it says it offers tokens only, and the sign-in
// routes answer with a clear refusal instead of half a flow.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { errorCode, makeServer, type TestServer } from '../helpers/server.js';

let s: TestServer;
afterEach(async () => s && (await s.close()));

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const post = (path: string, body: string) =>
  s.services.app.request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(body.length) },
    body,
  });
/** the body of an answer, for the fields a test reads */
const body = async (r: Response) => (await r.json()) as { error: { message: string } | string };
const message = async (r: Response) => {
  const e = (await body(r)).error;
  return typeof e === 'string' ? e : e.message;
};

test('withoutIdentity_configOffersTokensOnly', async () => {
  s = await makeServer();
  const r = await s.call(null, 'GET', '/v1/auth/config');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { methods: ['token'], sessionTtlSeconds: 12 * 3600 });
});

test('withoutIdentity_aDeviceCodeIs404_andPollingIsInvalidGrant_andThePageSaysSo', async () => {
  s = await makeServer();
  const device = await post('/v1/auth/device', form({ client_name: 'x' }));
  assert.equal(device.status, 404);
  assert.match(await message(device), /does not offer sign-in through an identity provider/);
  const token = await post('/v1/auth/token', form({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: 'x' }));
  assert.equal(token.status, 400);
  assert.equal((await body(token)).error, 'invalid_grant');
  const page = await s.services.app.request('/auth/device?user_code=BCDF-GHJK');
  assert.equal(page.status, 400);
  assert.match(await page.text(), /does not offer sign-in through an identity provider/);
});

test('logout_needsAToken_likeEveryOtherRoute', async () => {
  s = await makeServer();
  const r = await s.call(null, 'POST', '/v1/auth/logout');
  assert.equal(r.status, 401);
  assert.equal(errorCode(r), 'unauthenticated');
});

test('aFormBody_isRefusedOutsideTheSignInRoutes', async () => {
  s = await makeServer();
  const r = await s.services.app.request('/v1/requests', {
    method: 'POST',
    headers: { authorization: `Bearer ${s.tokens.alice}`, 'content-type': 'application/x-www-form-urlencoded', 'content-length': '12' },
    body: 'resourceId=x',
  });
  assert.equal(r.status, 400);
  assert.match(await message(r), /must be JSON/);
});
