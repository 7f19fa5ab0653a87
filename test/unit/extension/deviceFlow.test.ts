// The editor's device flow (extension/auth/deviceFlow.ts) against a scripted server: it waits as
// RFC 8628 says, stops with the server's reason, and sends nothing anywhere but the server.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeviceFlow, SignInCancelled } from '../../../extension/auth/deviceFlow';
import { ApiError } from '../../../extension/api/errors';

const ORIGIN = 'http://127.0.0.1:7410';
const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const device = {
  device_code: 'dc',
  user_code: 'BCDF-GHJK',
  verification_uri: `${ORIGIN}/auth/device`,
  verification_uri_complete: `${ORIGIN}/auth/device?user_code=BCDF-GHJK`,
  expires_in: 600,
  interval: 5,
};

/** A server answering the token endpoint from a script; records the waits and the requests. */
function scripted(answers: Response[]) {
  const waits: number[] = [];
  const requests: { url: string; body: string }[] = [];
  const flow = new DeviceFlow(ORIGIN, {
    fetch: (async (input: string | URL | Request, init?: RequestInit) => {
      requests.push({ url: String(input), body: String(init?.body ?? '') });
      return answers.shift() ?? json(500, {});
    }) as typeof fetch,
    sleep: async (ms) => void waits.push(ms),
  });
  return { flow, waits, requests };
}

describe('DeviceFlow', () => {
  it('poll_waitsTheInterval_addsFiveSecondsOnSlowDown_andReturnsTheToken', async () => {
    const s = scripted([
      json(400, { error: 'authorization_pending' }),
      json(400, { error: 'slow_down' }),
      json(400, { error: 'authorization_pending' }),
      json(200, { access_token: 'elv_x', token_type: 'Bearer', expires_in: 900 }),
    ]);
    const t = await s.flow.poll(device, new AbortController().signal);
    assert.equal(t.access_token, 'elv_x');
    assert.deepEqual(s.waits, [5000, 5000, 10000, 10000]);
    assert.ok(s.requests.every((r) => r.url === `${ORIGIN}/v1/auth/token`));
    assert.match(s.requests[0].body, /grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=dc/);
  });

  it('poll_accessDenied_stopsWithTheServersReason', async () => {
    const s = scripted([json(400, { error: 'access_denied', error_description: 'mallory is in none of the groups allowed to sign in (engineering)' })]);
    await assert.rejects(
      s.flow.poll(device, new AbortController().signal),
      (e: unknown) => e instanceof ApiError && /refused: mallory is in none of the groups/.test(e.message),
    );
  });

  it('poll_expiredToken_saysToSignInAgain', async () => {
    const s = scripted([json(400, { error: 'expired_token' })]);
    await assert.rejects(s.flow.poll(device, new AbortController().signal), /code expired/);
  });

  it('poll_cancelled_stopsWithoutAnotherRequest', async () => {
    const s = scripted([json(400, { error: 'authorization_pending' })]);
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(s.flow.poll(device, ac.signal), SignInCancelled);
    assert.equal(s.requests.length, 0);
  });

  it('start_refusesAVerificationPageOnAnotherOrigin', async () => {
    const s = scripted([json(200, { ...device, verification_uri_complete: 'https://evil.example/auth/device?user_code=BCDF-GHJK' })]);
    await assert.rejects(s.flow.start('VS Code'), (e: unknown) => e instanceof ApiError && e.code === 'bad_url');
  });

  it('config_ofAServerWithoutTheRoute_isTokensOnly', async () => {
    const s = scripted([json(404, { error: { code: 'not_found', message: 'no route' } })]);
    assert.deepEqual((await s.flow.config()).methods, ['token']);
  });
});
