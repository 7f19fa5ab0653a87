// Token authentication with its cache of token rows (Tokens.lookup): a cached token must stop
// working on the very next request after any revocation or expiry, wherever it came from.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { makeServer, type TestServer } from '../helpers/server.js';

let s: TestServer;
afterEach(async () => s && (await s.close()));

const me = (user = 'alice') => s.call(user, 'GET', '/v1/me').then((r) => r.status);

test('aRevocationByAnotherProcess_appliesToTheNextRequest_evenWithTheTokenCached', async () => {
  s = await makeServer();
  assert.equal(await me(), 200);
  assert.equal(await me(), 200, 'now cached');
  await s.services.store.settled();
  // what `elevate-server token revoke` does: its own connection, its own commit
  const cli = new Database(s.dbPath);
  try {
    cli.prepare('UPDATE tokens SET revoked_at = ? WHERE id = ?').run(Date.now(), s.tokenIds.alice);
  } finally {
    cli.close();
  }
  assert.equal(await me(), 401);
  assert.equal(await me('dave'), 200, 'other tokens still work');
});

test('aRevocationInThisProcess_appliesToTheNextRequest', async () => {
  s = await makeServer();
  assert.equal(await me(), 200);
  s.services.tokens.revoke([s.tokenIds.alice], 'test', 'lost laptop');
  assert.equal(await me(), 401);
});

test('aTokenRevokedByAPolicyReload_stopsAtOnce', async () => {
  s = await makeServer();
  assert.equal(await me('dave'), 200);
  const policy = s.policy;
  const users = new Map(policy.users);
  users.delete('dave');
  s.services.reload({ ...policy, users }, { usersRemoved: ['dave'] });
  assert.equal(await me('dave'), 401);
});

test('aCachedTokenThatExpires_isRefusedFromItsExpiry', async () => {
  s = await makeServer();
  const { token } = s.services.tokens.issue('alice', { actorId: 'test', ttlSeconds: 60 });
  const call = async () => (await s.services.app.request('/v1/me', { headers: { authorization: `Bearer ${token}` } })).status;
  assert.equal(await call(), 200);
  s.clock.advance(59_999);
  assert.equal(await call(), 200);
  s.clock.advance(1);
  assert.equal(await call(), 401);
});
