// The defining example: time-boxed write access to a production database instead of a standing
// login. Against a real PostgreSQL started here, through the real engine, outbox and HTTP API.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '../../server/domain/clock.js';
import { loginRoleName } from '../../server/providers/postgres.js';
import { type Elevate, type TestPostgres, freePort, grantVia, loginError, loginWith, startElevate, startPostgres } from './helpers.js';

let pgsrv: TestPostgres;
const ADMIN_ENV = 'ELEVATE_TEST_PG_ADMIN';
const BROKEN_ENV = 'ELEVATE_TEST_PG_BROKEN';

const policy = `
users:
  - id: alice
  - id: bob
    groups: [dba]
  - id: carol
resources:
  - id: prod-db
    roles: [read, write]
    maxDuration: 4h
    approval: { approvers: [group:dba] }
    extension: { withoutApproval: 1h }
    provider:
      type: postgres
      connection: { env: ${ADMIN_ENV} }
      roles: { read: app_readonly, write: app_readwrite }
      owner: app_owner
      timeout: 10s
  - id: broken-db
    roles: [write]
    maxDuration: 1h
    approval: { approvers: [group:dba] }
    provider:
      type: postgres
      connection: { env: ${BROKEN_ENV} }
      roles: { write: app_readwrite }
      owner: app_owner
      timeout: 5s
`;

before(async () => {
  pgsrv = await startPostgres();
  await pgsrv.admin('CREATE DATABASE appdb', [], 'postgres');
  for (const sql of [
    'CREATE ROLE app_owner NOLOGIN',
    'CREATE ROLE app_readonly NOLOGIN',
    'CREATE ROLE app_readwrite NOLOGIN IN ROLE app_readonly',
    'CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)',
    'ALTER TABLE notes OWNER TO app_owner',
    'GRANT USAGE ON SCHEMA public TO app_readonly',
    'GRANT SELECT ON notes TO app_readonly',
    'GRANT INSERT, UPDATE, DELETE ON notes TO app_readwrite',
    'GRANT USAGE ON SEQUENCE notes_id_seq TO app_readwrite',
    // writers may create objects: those must outlive the grant (REASSIGN OWNED)
    'GRANT CREATE ON SCHEMA public TO app_readwrite',
  ]) {
    await pgsrv.admin(sql);
  }
  process.env[ADMIN_ENV] = pgsrv.adminUrl('appdb');
  process.env[BROKEN_ENV] = `postgres://postgres:x@127.0.0.1:${await freePort()}/appdb`;
});

after(async () => {
  await pgsrv?.destroy();
});

const running: Elevate[] = [];
async function elevate(opts?: Parameters<typeof startElevate>[1]) {
  const e = await startElevate(policy, opts);
  running.push(e);
  return e;
}
after(async () => {
  for (const e of running) await e.stop().catch(() => {});
});

const roleExists = async (name: string) => (await pgsrv.admin('SELECT 1 FROM pg_roles WHERE rolname = $1', [name])).length === 1;
function audit(e: Elevate, grantId: string): { action: string; details: string }[] {
  const db = new Database(e.dbPath, { readonly: true });
  try {
    return db.prepare('SELECT action, details FROM audit WHERE grant_id = ? ORDER BY seq').all(grantId) as { action: string; details: string }[];
  } finally {
    db.close();
  }
}
const credentialsOf = async (e: Elevate, user: string, grantId: string) =>
  e.api<{ credentials: Record<string, string> }>(user, 'GET', `/v1/grants/${grantId}/credentials`);

test('writeGrant_issuesALoginThatWrites_andAtExpiryTheLoginIsRefusedSessionKilledRoleGoneObjectsKept', async () => {
  const e = await elevate();
  const grant = await grantVia(e, 'alice', 'bob', 'prod-db', 'write', 3600);
  assert.equal(grant.status, 'active');

  const got = await credentialsOf(e, 'alice', grant.id);
  assert.equal(got.status, 200);
  const creds = got.body.credentials;
  assert.deepEqual(Object.keys(creds).sort(), ['PGDATABASE', 'PGHOST', 'PGPASSWORD', 'PGPORT', 'PGUSER']);
  assert.equal(creds.PGUSER, loginRoleName({ id: grant.id, userId: 'alice' }));
  assert.equal(creds.PGDATABASE, 'appdb');
  assert.equal(creds.PGPORT, String(pgsrv.port));

  // PostgreSQL holds the same end: VALID UNTIL is the grant's expiresAt
  const [row] = await pgsrv.admin<{ until: Date }>('SELECT rolvaliduntil AS until FROM pg_roles WHERE rolname = $1', [creds.PGUSER]);
  assert.equal(row.until.toISOString(), grant.expiresAt);

  const session = await loginWith(creds);
  await session.query("INSERT INTO notes (body) VALUES ('written during the grant')");
  await session.query('CREATE TABLE incident_notes (id int)');
  assert.equal((await session.query("SELECT count(*)::int AS n FROM notes WHERE body = 'written during the grant'")).rows[0].n, 1);

  // past the end: the sweep expires the grant and the outbox removes the login
  await e.advance(new Date(grant.expiresAt).getTime() - e.clock.now() + 1000);
  const ended = await e.api(`alice`, 'GET', `/v1/grants/${grant.id}`);
  assert.equal(ended.body.grant.status, 'expired');
  assert.equal(ended.body.grant.revokePending, false);

  await assert.rejects(session.query('SELECT 1'), 'the session opened during the grant is terminated');
  await session.end().catch(() => {});
  assert.match((await loginError(creds)) ?? 'login succeeded', /password authentication failed|does not exist/);
  assert.equal(await roleExists(creds.PGUSER), false);
  const [kept] = await pgsrv.admin<{ owner: string }>("SELECT tableowner AS owner FROM pg_tables WHERE tablename = 'incident_notes'");
  assert.equal(kept?.owner, 'app_owner', 'objects created during the grant are kept, owned by the owner role');
  assert.equal((await pgsrv.admin("SELECT 1 FROM notes WHERE body = 'written during the grant'")).length, 1);

  assert.equal((await credentialsOf(e, 'alice', grant.id)).status, 409);
  const actions = audit(e, grant.id).map((a) => a.action);
  assert.ok(actions.includes('grant.expired') && actions.includes('grant.deprovisioned'), actions.join(','));
});

test('readGrant_canReadButNotWrite', async () => {
  const e = await elevate();
  const grant = await grantVia(e, 'alice', 'bob', 'prod-db', 'read');
  const creds = (await credentialsOf(e, 'alice', grant.id)).body.credentials;
  const c = await loginWith(creds);
  try {
    await c.query('SELECT count(*) FROM notes');
    await assert.rejects(c.query("INSERT INTO notes (body) VALUES ('nope')"), /permission denied/);
    await assert.rejects(c.query('CREATE TABLE t_read (id int)'), /permission denied/);
  } finally {
    await c.end();
  }
});

test('validUntil_refusesTheLoginAfterTheGrantEnds_evenWhenElevateDoesNothing', async () => {
  // the grant ends 3 s of real time from now; the fake clock never moves, so Elevate never expires it
  const clock = new FakeClock(Date.now() - 57_000);
  const e = await elevate({ clock });
  const grant = await grantVia(e, 'alice', 'bob', 'prod-db', 'write', 60);
  const creds = (await credentialsOf(e, 'alice', grant.id)).body.credentials;
  assert.equal(await loginError(creds), null);
  await new Promise((r) => setTimeout(r, Math.max(0, new Date(grant.expiresAt).getTime() - Date.now()) + 1000));
  assert.match((await loginError(creds)) ?? 'login succeeded', /password authentication failed/);
  assert.equal(await roleExists(creds.PGUSER), true, 'Elevate has not acted: PostgreSQL refused on its own');
});

test('revocation_terminatesSessions_dropsTheRole_andKeepsObjects', async () => {
  const e = await elevate();
  const grant = await grantVia(e, 'alice', 'bob', 'prod-db', 'write');
  const creds = (await credentialsOf(e, 'alice', grant.id)).body.credentials;
  const session = await loginWith(creds);
  await session.query('CREATE TABLE made_before_revoke (id int)');

  const revoked = await e.api('bob', 'POST', `/v1/grants/${grant.id}/revoke`, { reason: 'done' });
  assert.equal(revoked.status, 200);
  await e.settle();

  await assert.rejects(session.query('SELECT 1'));
  await session.end().catch(() => {});
  assert.notEqual(await loginError(creds), null);
  assert.equal(await roleExists(creds.PGUSER), false);
  const [kept] = await pgsrv.admin<{ owner: string }>("SELECT tableowner AS owner FROM pg_tables WHERE tablename = 'made_before_revoke'");
  assert.equal(kept?.owner, 'app_owner');
  assert.equal((await credentialsOf(e, 'alice', grant.id)).status, 409);
});

test('extension_movesValidUntil', async () => {
  const e = await elevate();
  const grant = await grantVia(e, 'alice', 'bob', 'prod-db', 'write', 1800);
  const ext = await e.api('alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 1800 });
  assert.equal(ext.status, 200);
  await e.settle();
  const role = loginRoleName({ id: grant.id, userId: 'alice' });
  const [row] = await pgsrv.admin<{ until: Date }>('SELECT rolvaliduntil AS until FROM pg_roles WHERE rolname = $1', [role]);
  assert.equal(row.until.toISOString(), ext.body.grant.expiresAt);
  assert.equal(new Date(ext.body.grant.expiresAt).getTime() - new Date(grant.expiresAt).getTime(), 1800_000);
});

test('credentials_onlyForTheOwner_404WhenInvisible_sealedAtRest_neverLoggedOrAudited', async () => {
  const e = await elevate();
  const grant = await grantVia(e, 'alice', 'bob', 'prod-db', 'write');
  const creds = (await credentialsOf(e, 'alice', grant.id)).body.credentials;
  assert.equal((await credentialsOf(e, 'bob', grant.id)).status, 403, 'an approver sees the grant but not its secrets');
  assert.equal((await credentialsOf(e, 'carol', grant.id)).status, 404);
  assert.equal((await credentialsOf(e, 'alice', 'grt_nope')).status, 404);

  const raw = new Database(e.dbPath, { readonly: true });
  const [stored] = raw.prepare('SELECT sealed FROM credentials WHERE grant_id = ?').all(grant.id) as { sealed: Buffer }[];
  assert.ok(stored, 'a row exists');
  assert.equal(stored.sealed.includes(Buffer.from(creds.PGPASSWORD)), false);
  assert.equal(stored.sealed.includes(Buffer.from(creds.PGUSER)), false);
  const auditText = JSON.stringify(raw.prepare('SELECT * FROM audit').all());
  const outboxText = JSON.stringify(raw.prepare('SELECT * FROM outbox').all());
  raw.close();
  for (const where of [auditText, outboxText, e.logs.join('\n')]) assert.equal(where.includes(creds.PGPASSWORD), false);

  await e.api('alice', 'POST', `/v1/grants/${grant.id}/relinquish`);
  const after = new Database(e.dbPath, { readonly: true });
  assert.equal((after.prepare('SELECT count(*) AS n FROM credentials').get() as { n: number }).n, 0, 'wiped when the grant ends');
  after.close();
});

test('failedRevoke_isRetried_showsRevokePending_isAudited_andSucceedsAfterARestartOfBoth', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'elevate-srv-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const e1 = await elevate({ dir });
  const grant = await grantVia(e1, 'alice', 'bob', 'prod-db', 'write');
  const creds = (await credentialsOf(e1, 'alice', grant.id)).body.credentials;

  await pgsrv.stop();
  try {
    assert.equal((await e1.api('bob', 'POST', `/v1/grants/${grant.id}/revoke`, { reason: 'incident over' })).status, 200);
    await e1.settle();
    let g = (await e1.api('alice', 'GET', `/v1/grants/${grant.id}`)).body.grant;
    assert.equal(g.status, 'revoked');
    assert.equal(g.revokePending, true);
    const failed = audit(e1, grant.id).filter((a) => a.action === 'grant.revoke_failed');
    assert.equal(failed.length, 1);
    assert.equal(JSON.parse(failed[0].details).provider, 'postgres');

    // still down: the retry fails again, quietly (announced once), and stays pending
    await e1.advance(3_000);
    g = (await e1.api('alice', 'GET', `/v1/grants/${grant.id}`)).body.grant;
    assert.equal(g.revokePending, true);
    assert.equal(audit(e1, grant.id).filter((a) => a.action === 'grant.revoke_failed').length, 1);
    await e1.stop();
  } finally {
    await pgsrv.start();
  }
  assert.equal(await roleExists(creds.PGUSER), true, 'not removed yet');

  // a new server over the same database picks the queued revocation up
  const e2 = await elevate({ dir, clock: new FakeClock(Date.now() + 60_000) });
  await e2.advance(10 * 60_000);
  const g = (await e2.api('alice', 'GET', `/v1/grants/${grant.id}`)).body.grant;
  assert.equal(g.revokePending, false);
  assert.equal(await roleExists(creds.PGUSER), false);
  assert.ok(audit(e2, grant.id).some((a) => a.action === 'grant.deprovisioned'));
});

test('failedProvisioning_marksTheGrantFailed_requestStaysApproved_noCredentials', async () => {
  const e = await elevate();
  const grant = await grantVia(e, 'alice', 'bob', 'broken-db', 'write');
  const g = (await e.api('alice', 'GET', `/v1/grants/${grant.id}`)).body.grant;
  assert.equal(g.status, 'failed');
  const r = (await e.api('alice', 'GET', `/v1/requests/${grant.requestId}`)).body.request;
  assert.equal(r.status, 'approved');
  const failed = audit(e, grant.id).find((a) => a.action === 'grant.failed');
  assert.ok(failed, 'audited grant.failed');
  assert.match(JSON.parse(failed.details).error, /ECONNREFUSED|connect/);
  assert.equal((await credentialsOf(e, 'alice', grant.id)).status, 409);
  // the check endpoint agrees: no access
  assert.equal((await e.services.engine.check('alice', 'broken-db', 'write')).allowed, false);
});
