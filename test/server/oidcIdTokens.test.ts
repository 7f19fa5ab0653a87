// The ID token checks: Elevate accepts a session only from an ID token signed by the IdP's key,
// issued by the configured issuer, for Elevate's client id, not expired, not unsigned. Each
// broken token is refused with a clear message, audited as auth.failed, and the editor's device
// code is denied. The IdP is a forging one (test/helpers/forgingIdp.ts) over real HTTP.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Browser } from '../helpers/browser.js';
import { startForgingIdp, type Forgery } from '../helpers/forgingIdp.js';
import { confirmCode, poll, startDevice, startOidcWorld, type OidcWorld } from '../helpers/oidc.js';

let w: OidcWorld;
let forgery: Forgery = 'none';
before(async () => {
  w = await startOidcWorld({ idp: (redirectUri) => startForgingIdp(redirectUri, () => forgery) });
});
after(async () => w && (await w.close()));

/** A whole sign-in with the IdP answering `kind`: the page it ends on, the poll, the audit. */
async function signInWith(kind: Forgery) {
  forgery = kind;
  const b = new Browser();
  const d = await startDevice(w);
  const page = await b.browse(await confirmCode(b, d.verification_uri_complete));
  await w.s.advance(5_000);
  const polled = await poll(w, d.device_code);
  await w.s.services.batcher.flush();
  const failure = (await w.s.store.read((tx) => tx.audit.query({ action: 'auth.failed', limit: 1 }))).events[0];
  return { page, polled, reason: String((failure?.details as { reason?: unknown } | undefined)?.reason) };
}

test('anHonestIdToken_signsIn (the forging IdP is otherwise sound)', async () => {
  const r = await signInWith('none');
  assert.equal(r.page.status, 200, r.page.text);
  assert.match(r.page.text, /Signed in as <strong>alice<\/strong>/);
  assert.equal(r.polled.status, 200);
});

const refusals: [Forgery, RegExp][] = [
  ['wrong-issuer', /ID token was refused: unexpected JWT "iss" \(issuer\) claim value/],
  ['wrong-audience', /ID token was refused: unexpected JWT "aud" \(audience\) claim value/],
  ['bad-signature', /ID token was refused: JWT signature verification failed/],
  ['expired', /ID token was refused: unexpected JWT "exp" \(expiration time\) claim value, expiration is past current timestamp/],
  ['alg-none', /ID token was refused: unexpected JWT "alg" header parameter/],
];

for (const [kind, message] of refusals) {
  test(`anIdToken_${kind}_isRefused_audited_andTheDeviceCodeDenied`, async () => {
    const r = await signInWith(kind);
    assert.equal(r.page.status, 400);
    assert.match(r.page.text.replaceAll('&quot;', '"'), message);
    assert.match(r.reason, message, 'auth.failed carries the same reason');
    assert.equal(r.polled.status, 400);
    assert.equal(r.polled.body.error, 'access_denied');
  });
}
