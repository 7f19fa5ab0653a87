// Token authentication with its cache of token records (Tokens.authenticate): a cached token must
// stop working on the very next request after a revocation or expiry in this process, and as
// soon as the server has heard of a revocation committed by another process (the CLI, another
// replica) and read its `token.revoked` event from the log.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { Tokens } from '../../server/engine/tokens.js';
import { makeServer, openTestStore, type TestServer } from '../helpers/server.js';

let s: TestServer;
afterEach(async () => s && (await s.close()));

const me = (user = 'alice') => s.call(user, 'GET', '/v1/me').then((r) => r.status);

test('aRevocationByAnotherProcess_appliesOnceTheServerHasHeardOfIt_evenWithTheTokenCached', async () => {
  s = await makeServer();
  assert.equal(await me(), 200);
  assert.equal(await me(), 200, 'now cached');
  const heard = new Promise<void>((resolve) => {
    const off = s.store.onCommitted(() => (off(), resolve()));
  });
  // what `elevate-server token revoke` does: its own store (connection), its own commit; the
  // server's group commit goes first (in one process, the CLI's wait for the lock would block it)
  await s.store.transaction(async () => {});
  const cli = await openTestStore(s.db, { role: 'cli' });
  try {
    assert.deepEqual(await new Tokens(cli, s.clock).revoke([s.tokenIds.alice], 'cli', 'lost laptop'), [s.tokenIds.alice]);
  } finally {
    await cli.close();
  }
  // the store's notice of another process's commit (SQLite: its data_version poll, an unref'd
  // timer, so the test keeps the process alive meanwhile), then the log
  const alive = setInterval(() => {}, 50);
  await heard.finally(() => clearInterval(alive));
  await s.services.follow();
  assert.equal(await me(), 401);
  assert.equal(await me('dave'), 200, 'other tokens still work');
});

test('aRevocationInThisProcess_appliesToTheNextRequest', async () => {
  s = await makeServer();
  assert.equal(await me(), 200);
  await s.services.tokens.revoke([s.tokenIds.alice], 'test', 'lost laptop');
  assert.equal(await me(), 401);
});

test('aTokenRevokedByAPolicyReload_stopsAtOnce', async () => {
  s = await makeServer();
  assert.equal(await me('dave'), 200);
  const policy = s.policy;
  const users = new Map(policy.users);
  users.delete('dave');
  await s.services.reload({ ...policy, users }, { usersRemoved: ['dave'] });
  assert.equal(await me('dave'), 401);
});

test('aCachedTokenThatExpires_isRefusedFromItsExpiry', async () => {
  s = await makeServer();
  const { token } = await s.services.tokens.issue('alice', { actorId: 'test', ttlSeconds: 60 });
  const call = async () => (await s.services.app.request('/v1/me', { headers: { authorization: `Bearer ${token}` } })).status;
  assert.equal(await call(), 200);
  await s.advance(59_999);
  assert.equal(await call(), 200);
  await s.advance(1);
  assert.equal(await call(), 401);
});
