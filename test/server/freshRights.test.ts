// No stale rights (issue 12, item 7): what another process wrote (the CLI on SQLite, another
// replica on PostgreSQL) applies to the very next request this server answers, with no wait for
// the store's wake-up or the log follower. Runs on both backends; the two-replica sign-in tests
// need two servers on one database, which only PostgreSQL allows.
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEMO_IDP_USERS, startDemoIdp } from '../../server/demo/idp.js';
import { Tokens } from '../../server/engine/tokens.js';
import { disableUser } from '../../server/identity/service.js';
import { openStore } from '../../server/store/open.js';
import type { Store } from '../../server/store/types.js';
import { onPostgres, testPgPassword } from '../helpers/backend.js';
import { oidcPolicy, signIn, startOidcWorld, type OidcWorld } from '../helpers/oidc.js';
import { makeServer, type TestServer } from '../helpers/server.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** Another process on the server's database: the CLI on SQLite, another replica's store on PostgreSQL. */
async function otherProcess(s: TestServer): Promise<Store> {
  // on SQLite the server's group commit goes first (in one process, the CLI's wait for the lock would block it)
  await s.store.transaction(async () => {});
  const store = onPostgres ? await openStore(s.dbPath, { role: 'server', password: testPgPassword() }) : await openStore(s.dbPath, { role: 'cli' });
  cleanups.push(() => store.close());
  return store;
}

async function server(): Promise<TestServer> {
  const s = await makeServer();
  cleanups.push(() => s.close());
  return s;
}

const me = (s: TestServer, user: string) => s.call(user, 'GET', '/v1/me').then((r) => r.status);

describe('what another process wrote applies to the very next request', () => {
  test('aTokenRevokedByAnotherProcess_isRefusedAtOnce_thoughThisServerHadItCached', async () => {
    const s = await server();
    assert.equal(await me(s, 'alice'), 200);
    assert.equal(await me(s, 'alice'), 200, 'now cached (SQLite)');
    const other = await otherProcess(s);
    assert.deepEqual(await new Tokens(other, s.clock).revoke([s.tokenIds.alice], 'cli', 'lost laptop'), [s.tokenIds.alice]);
    // no settle, no wait for the store's wake-up: the very next request
    assert.equal(await me(s, 'alice'), 401);
    assert.equal(await me(s, 'dave'), 200, 'other tokens still work');
  });

  test('aUserDisabledByAnotherProcess_isRefusedAtOnce', async () => {
    const s = await server();
    assert.equal(await me(s, 'dave'), 200);
    const other = await otherProcess(s);
    const r = await disableUser(other, s.clock.now(), 'dave', 'cli', 'left the company');
    assert.deepEqual(r.tokensRevoked, [s.tokenIds.dave]);
    assert.equal(await me(s, 'dave'), 401);
    assert.equal(await me(s, 'alice'), 200);
  });
});

describe('two replicas on one PostgreSQL database, sign-in through the IdP on one of them', { skip: !onPostgres && 'one server per SQLite file' }, () => {
  /** The IdP world's server is replica A; B serves the same policy from the same database. */
  async function twoReplicas(): Promise<{ w: OidcWorld; b: TestServer; users: typeof DEMO_IDP_USERS }> {
    const users = structuredClone(DEMO_IDP_USERS);
    const w = await startOidcWorld({ idp: (redirectUri) => startDemoIdp({ users, redirectUris: [redirectUri] }) });
    cleanups.push(() => w.close());
    const b = await makeServer({
      clock: w.clock,
      policy: oidcPolicy({ issuer: w.idp.issuer, publicUrl: w.url }),
      dbSpec: { spec: w.s.dbPath, password: testPgPassword(), args: w.s.dbArgs },
    });
    cleanups.push(() => b.close());
    return { w, b, users };
  }
  const meOn = async (b: TestServer, token: string) => {
    const r = await b.services.app.request('/v1/me', { headers: { authorization: `Bearer ${token}` } });
    return { status: r.status, body: (r.status === 200 ? await r.json() : undefined) as { user: { roles: string[]; groups: string[] } } | undefined };
  };

  test('someoneSignedInOnReplicaA_isKnownToReplicaB_onTheirVeryFirstRequest', async () => {
    const { w, b } = await twoReplicas();
    const token = await signIn(w, 'alice');
    const r = await meOn(b, token);
    assert.equal(r.status, 200, 'B knows alice without waiting for its follower');
    assert.deepEqual(r.body!.user.groups, ['engineering', 'developers']);
  });

  test('anAdminDemotedAtTheIdp_signingInAgainOnReplicaA_losesAdminOnReplicaB_atTheNextRequest', async () => {
    const { w, b, users } = await twoReplicas();
    const first = await signIn(w, 'carol');
    assert.deepEqual((await meOn(b, first)).body!.user.roles, ['admin']);
    users.carol.groups = ['engineering'];
    await signIn(w, 'carol');
    // the user's roles are what their latest sign-in made them, whichever token they present
    const r = await meOn(b, first);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body!.user.roles, []);
  });
});
