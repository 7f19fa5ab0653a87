// The PostgreSQL store against a real PostgreSQL (embedded, started here): opening and
// migrating, every repository, the audit chain (the same hashes as on SQLite), and several
// Store instances on one database, as several replicas would be.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import pgClient from 'pg';
import { followSql } from '../../server/store/postgres/audit.js';
import { openPostgresStore, types } from '../../server/store/postgres/index.js';
import { migrations } from '../../server/store/postgres/migrations.js';
import { PgStore } from '../../server/store/postgres/store.js';
import { SqliteStore } from '../../server/store/sqlite/store.js';
import { type AuditInput, type NewGrant, type NewRequest, STORE_CONFLICT, STORE_UNAVAILABLE, type Store } from '../../server/store/types.js';
import { LEADS, storeContract } from './contract.js';
import { type EmbeddedPg, startEmbeddedPg } from './embeddedPg.js';

// each test's own limit: a hang fails the test instead of the suite's time limit
const LIMIT = { timeout: 60_000 };
const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
const HOUR = 3_600_000;

let pg: EmbeddedPg;
const open: Store[] = [];

before(async () => {
  pg = await startEmbeddedPg();
});

/** Closes every store opened so far (each group closes its own: the cluster allows 100 connections). */
async function closeAll(): Promise<void> {
  // a failed test may leave a transaction open, which close() would wait for: give up after a while
  const giveUp = () => new Promise<void>((r) => setTimeout(r, 5000).unref());
  while (open.length)
    await Promise.race([
      open
        .pop()!
        .close()
        .catch(() => {}),
      giveUp(),
    ]);
}

after(async () => {
  await closeAll();
  await pg?.destroy();
});

async function storeOn(database: string, opts: Parameters<typeof openPostgresStore>[1] = {}): Promise<Store> {
  const s = await openPostgresStore(pg.url(database), { poolSize: 4, ...opts });
  open.push(s);
  return s;
}

/** n Store instances (replicas) on one fresh database */
async function replicas(n: number): Promise<Store[]> {
  const db = await pg.freshDatabase();
  return Promise.all(Array.from({ length: n }, () => storeOn(db)));
}

const request = (id: string, over: Partial<NewRequest> = {}): NewRequest => ({
  id,
  kind: 'access',
  requesterId: 'alice',
  resourceId: 'prod-db',
  role: 'read',
  durationS: 3600,
  justification: 'INC-1: look at the orders',
  ticket: 'INC-1',
  status: 'pending',
  grantId: null,
  required: 1,
  autoApproved: false,
  breakGlass: false,
  evaluation: { reasons: ['needs approval'] },
  createdAt: T0,
  decidedAt: null,
  pendingUntil: T0 + HOUR,
  ...over,
});

const grant = (id: string, over: Partial<NewGrant> = {}): NewGrant => ({
  id,
  requestId: `req-${id}`,
  userId: 'alice',
  resourceId: 'prod-db',
  role: 'read',
  startsAt: T0,
  expiresAt: T0 + HOUR,
  maxExpiresAt: T0 + 4 * HOUR,
  ...over,
});

const event = (i: number, over: Partial<AuditInput> = {}): AuditInput => ({
  at: T0 + i,
  actorId: 'alice',
  action: 'policy.reloaded',
  resourceId: 'prod-db',
  subjectId: 'alice',
  // keys out of order, nesting, non-ASCII: the canonical text is what the hash covers
  details: { z: i, a: [1, { c: null, b: 'ü\u2028"' }], m: { y: true, x: 1.5 } },
  ...over,
});

const rejectsUnavailable = (p: Promise<unknown>) => assert.rejects(p, (e: unknown) => (e as { code?: unknown }).code === STORE_UNAVAILABLE);
const codeOf = (r: PromiseSettledResult<unknown>) => (r.status === 'rejected' ? (r.reason as { code?: unknown }).code : 'ok');

describe('opening a PostgreSQL store', () => {
  after(closeAll);
  test('open_freshDatabase_migratesToTheCurrentSchema', LIMIT, async () => {
    const db = await pg.freshDatabase();
    const s = await storeOn(db);
    assert.deepEqual(await s.schema(), { version: migrations.length, expected: migrations.length });
    const versions = await pg.admin<{ version: number }>(db, 'SELECT version FROM schema_migrations ORDER BY version');
    assert.deepEqual(
      versions.map((v) => v.version),
      migrations.map((_, i) => i + 1),
    );
    await s.ping();
  });

  test('open_threeReplicasAtOnce_migrateOnce', LIMIT, async () => {
    const db = await pg.freshDatabase();
    const stores = await Promise.all([storeOn(db), storeOn(db), storeOn(db)]);
    for (const s of stores) assert.equal((await s.schema()).version, migrations.length);
    const rows = await pg.admin<{ n: string }>(db, 'SELECT count(*) AS n FROM schema_migrations');
    assert.equal(Number(rows[0].n), migrations.length);
  });

  test('open_databaseNewerThanThisServer_isRefused', LIMIT, async () => {
    const db = await pg.freshDatabase();
    await (await storeOn(db)).close();
    await pg.admin(db, 'INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)');
    await assert.rejects(openPostgresStore(pg.url(db)), /schema version 99 is newer than this server/);
  });

  test('open_forAReadOnlyCommand_neverCreatesTheTables_andNeedsTheCurrentSchema', LIMIT, async () => {
    const db = await pg.freshDatabase();
    await assert.rejects(openPostgresStore(pg.url(db), { migrate: false }), (e: unknown) => {
      assert.equal((e as { code?: unknown }).code, 'NO_DATABASE');
      assert.match((e as Error).message, /no Elevate tables in this database/);
      return true;
    });
    const tables = await pg.admin<{ n: string }>(db, `SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public'`);
    assert.equal(Number(tables[0].n), 0, 'nothing was created');
    await (await openPostgresStore(pg.url(db))).close();
    const s = await openPostgresStore(pg.url(db), { migrate: false });
    open.push(s);
    assert.deepEqual(await s.schema(), { version: migrations.length, expected: migrations.length });
    await pg.admin(db, 'DELETE FROM schema_migrations WHERE version = $1', [migrations.length]);
    await assert.rejects(openPostgresStore(pg.url(db), { migrate: false }), /is older than this command expects/);
  });

  test('open_passwordFromOption_whenTheUrlHasNone', LIMIT, async () => {
    const db = await pg.freshDatabase();
    const s = await openPostgresStore(pg.bareUrl(db), { password: pg.password });
    open.push(s);
    await s.ping();
  });

  test('open_passwordFromPGPASSFILE_whenNothingElseGivesOne', LIMIT, async () => {
    const db = await pg.freshDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'elevate-pgpass-'));
    const file = join(dir, 'pgpass');
    writeFileSync(file, `127.0.0.1:${pg.port}:${db}:postgres:${pg.password}\n`);
    chmodSync(file, 0o600);
    const saved = { PGPASSFILE: process.env.PGPASSFILE, PGPASSWORD: process.env.PGPASSWORD };
    process.env.PGPASSFILE = file;
    delete process.env.PGPASSWORD;
    try {
      const s = await openPostgresStore(pg.bareUrl(db));
      open.push(s);
      await s.ping();
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('open_wrongPassword_failsWithoutShowingIt', LIMIT, async () => {
    const secret = 'wrong-secret-4711';
    const url = `postgres://postgres:${secret}@127.0.0.1:${pg.port}/postgres`;
    await assert.rejects(openPostgresStore(url), (e: unknown) => {
      const text = `${String(e)} ${(e as Error).stack ?? ''}`;
      assert.ok(!text.includes(secret), text);
      assert.match((e as Error).message, /postgres:\/\/postgres:\*\*\*@127\.0\.0\.1/);
      return true;
    });
  });

  test('open_malformedUrl_isRefusedWithoutShowingThePassword', LIMIT, async () => {
    await assert.rejects(openPostgresStore('postgres://u:pw-4713@[not-a-host/db'), (e: unknown) => {
      assert.match((e as Error).message, /not a valid PostgreSQL URL/);
      assert.ok(!`${(e as Error).message} ${(e as Error).stack}`.includes('pw-4713'));
      return true;
    });
  });

  test('open_nobodyListening_isUnavailable_withTheUrlRedacted', LIMIT, async () => {
    const url = `postgres://postgres:pw-4712@127.0.0.1:1/postgres`;
    await assert.rejects(openPostgresStore(url), (e: unknown) => {
      assert.equal((e as { code?: unknown }).code, STORE_UNAVAILABLE);
      assert.ok(!(e as Error).message.includes('pw-4712'));
      return true;
    });
  });
});

describe('repositories on PostgreSQL', () => {
  after(closeAll);
  let s: Store;
  let dbName: string;
  before(async () => {
    dbName = await pg.freshDatabase();
    s = await storeOn(dbName);
  });

  test('requests_roundTripAndConditionalDecide', LIMIT, async () => {
    await s.transaction((tx) => tx.requests.insert(request('r1', { evaluation: { autoApproveRule: 2, reasons: ['a', 'b'] }, breakGlass: true })));
    const r = await s.read((tx) => tx.requests.get('r1'));
    assert.ok(r && r.seq > 0);
    assert.deepEqual({ ...r, seq: 0 }, { ...request('r1', { evaluation: { autoApproveRule: 2, reasons: ['a', 'b'] }, breakGlass: true }), seq: 0 });
    assert.equal(await s.transaction((tx) => tx.requests.decide('r1', 'approved', T0 + 5, 'g1')), true);
    assert.equal(await s.transaction((tx) => tx.requests.decide('r1', 'denied', T0 + 6, null)), false);
    const after = await s.read((tx) => tx.requests.get('r1'));
    assert.equal(after?.status, 'approved');
    assert.equal(after?.grantId, 'g1');
    assert.equal(after?.decidedAt, T0 + 5);
  });

  test('requests_queries', LIMIT, async () => {
    await s.transaction(async (tx) => {
      await tx.requests.insert(request('q1', { requesterId: 'bob', resourceId: 'res-a', pendingUntil: T0 + 10 }));
      await tx.requests.insert(request('q2', { requesterId: 'bob', resourceId: 'res-b', pendingUntil: T0 + 20 }));
      await tx.requests.insert(
        request('q3', { kind: 'extension', requesterId: 'bob', resourceId: 'res-a', grantId: 'gq', durationS: 600, pendingUntil: T0 + 30 }),
      );
      await tx.requests.insert(
        request('q4', { kind: 'extension', requesterId: 'bob', resourceId: 'res-a', grantId: 'gq', durationS: 900, status: 'approved' }),
      );
    });
    const ids = (rs: { id: string }[]) => rs.map((r) => r.id);
    await s.read(async (tx) => {
      assert.deepEqual(ids(await tx.requests.byRequester('bob', 10)), ['q4', 'q3', 'q2', 'q1']);
      assert.deepEqual(ids(await tx.requests.byRequester('bob', 10, 'approved')), ['q4']);
      assert.deepEqual(ids(await tx.requests.forResources(['res-a'], 'pending', 10)), ['q3', 'q1']);
      assert.deepEqual(await tx.requests.forResources([], undefined, 10), []);
      assert.equal((await tx.requests.pendingExtension('gq'))?.id, 'q3');
      assert.deepEqual([...(await tx.requests.pendingExtensions(['gq', 'none'])).keys()], ['gq']);
      assert.equal(await tx.requests.approvedExtensionSeconds('bob', 'gq'), 900);
      assert.deepEqual(ids(await tx.requests.duePending(T0 + 20, 10)), ['q1', 'q2']);
      assert.ok((await tx.grants.nextDue(LEADS))! <= T0 + 10, 'no later than the soonest pending deadline');
      assert.deepEqual(ids(await tx.requests.pendingForResource('res-a')), ['q1', 'q3']);
      assert.deepEqual(ids(await tx.requests.pendingByRequester('bob')), ['q1', 'q2', 'q3']);
      assert.ok(ids(await tx.requests.allPending()).includes('q2'));
    });
    // one pending extension per grant, as on SQLite
    await assert.rejects(s.transaction((tx) => tx.requests.insert(request('q5', { kind: 'extension', grantId: 'gq' }))));
  });

  test('approvals_secondDecisionOfOneApprover_isFalse', LIMIT, async () => {
    await s.transaction((tx) => tx.requests.insert(request('ra')));
    const a = { requestId: 'ra', approverId: 'bob', decision: 'approve' as const, comment: 'ok', at: T0 + 1 };
    assert.equal(await s.transaction((tx) => tx.approvals.add(a)), true);
    assert.equal(await s.transaction((tx) => tx.approvals.add({ ...a, decision: 'deny', at: T0 + 2 })), false);
    assert.deepEqual(await s.read((tx) => tx.approvals.of('ra')), [a]);
  });

  test('grants_lifecycleWithConditionalUpdates', LIMIT, async () => {
    await s.transaction((tx) => tx.grants.insert(grant('g1')));
    const g = await s.read((tx) => tx.grants.get('g1'));
    assert.deepEqual(
      { ...g, seq: 0 },
      { ...grant('g1'), seq: 0, status: 'active', extensions: 0, revokePending: false, endedAt: null, endedBy: null, endReason: null, warned: 0 },
    );
    await s.transaction((tx) => tx.grants.setWarned('g1', 1));
    assert.equal(await s.transaction((tx) => tx.grants.extend('g1', T0 + 2 * HOUR, T0 + 3 * HOUR, T0 + 4 * HOUR)), false, 'from the wrong end');
    assert.equal(await s.transaction((tx) => tx.grants.extend('g1', T0 + HOUR, T0 + 2 * HOUR, T0 + 4 * HOUR)), true);
    const extended = await s.read((tx) => tx.grants.get('g1'));
    assert.deepEqual([extended?.expiresAt, extended?.extensions, extended?.warned], [T0 + 2 * HOUR, 1, 0]);
    assert.deepEqual(await s.read((tx) => tx.grants.check('alice', 'prod-db', 'read', T0)), { id: 'g1', expiresAt: T0 + 2 * HOUR });
    assert.equal(await s.read((tx) => tx.grants.check('alice', 'prod-db', 'read', T0 + 2 * HOUR)), undefined, 'not at its end');
    assert.deepEqual(await s.read((tx) => tx.grants.activeCombos()), [{ userId: 'alice', resourceId: 'prod-db', role: 'read' }]);
    await s.transaction((tx) => tx.grants.refreshMaxExpires('prod-db', HOUR));
    assert.equal((await s.read((tx) => tx.grants.get('g1')))?.maxExpiresAt, T0 + 2 * HOUR, 'never below its end');
    assert.equal(await s.transaction((tx) => tx.grants.end('g1', 'revoked', T0 + 60, 'bob', 'done', true)), true);
    assert.equal(await s.transaction((tx) => tx.grants.end('g1', 'relinquished', T0 + 61, 'alice', null, false)), false);
    const ended = await s.read((tx) => tx.grants.get('g1'));
    assert.deepEqual([ended?.status, ended?.endedAt, ended?.endedBy, ended?.endReason, ended?.revokePending], ['revoked', T0 + 60, 'bob', 'done', true]);
    assert.equal(await s.transaction((tx) => tx.grants.extend('g1', T0 + 2 * HOUR, T0 + 3 * HOUR, T0 + 4 * HOUR)), false, 'ended');
  });

  test('grants_expiryWarningsAndListing', LIMIT, async () => {
    await s.transaction(async (tx) => {
      await tx.grants.insert(grant('w1', { userId: 'carol', resourceId: 'res-w', expiresAt: T0 + 10 * 60_000 }));
      await tx.grants.insert(grant('w2', { userId: 'carol', resourceId: 'res-w', expiresAt: T0 + 3 * 60_000 }));
    });
    const due = await s.transaction(async (tx) => {
      const d = await tx.grants.dueWarnings(T0, 5 * 60_000, 1);
      for (const g of d) await tx.grants.setWarned(g.id, g.warned | 1);
      return d.map((g) => g.id);
    });
    assert.ok(due.includes('w2') && !due.includes('w1'));
    assert.deepEqual(await s.read((tx) => tx.grants.dueWarnings(T0, 5 * 60_000, 1)).then((d) => d.filter((g) => g.resourceId === 'res-w')), []);
    assert.equal(await s.read((tx) => tx.grants.nextDue(LEADS)).then((t) => t !== null && t <= T0 + 3 * 60_000 - 60_000), true, "w2's 1-minute warning");
    const listed = await s.read((tx) => tx.grants.list({ userId: 'carol', limit: 1 }));
    assert.deepEqual(
      listed.map((g) => g.id),
      ['w2'],
    );
    const older = await s.read((tx) => tx.grants.list({ userId: 'carol', beforeSeq: listed[0].seq, limit: 5 }));
    assert.deepEqual(
      older.map((g) => g.id),
      ['w1'],
    );
    assert.deepEqual(await s.read((tx) => tx.grants.list({ resourceIds: [], limit: 5 })), []);
    assert.deepEqual((await s.read((tx) => tx.grants.activeFor({ resourceId: 'res-w' }))).map((g) => g.id).sort(), ['w1', 'w2']);
    assert.deepEqual((await s.read((tx) => tx.grants.activeOf('carol', 'res-w', 'read'))).length, 2);
  });

  test('grants_expireDue_endsDueGrantsAtTheirOwnEnd_soonestFirst', LIMIT, async () => {
    await s.transaction(async (tx) => {
      await tx.grants.insert(grant('e1', { resourceId: 'res-e', expiresAt: T0 + 2000 }));
      await tx.grants.insert(grant('e2', { resourceId: 'res-gone', expiresAt: T0 + 1000 }));
      await tx.grants.insert(grant('e3', { resourceId: 'res-e', expiresAt: T0 + 9000 }));
    });
    const expired = await s.transaction((tx) => tx.grants.expireDue(T0 + 5000, 100, ['res-gone']));
    const mine = expired.filter((g) => g.id.startsWith('e'));
    assert.deepEqual(
      mine.map((g) => [g.id, g.status, g.endedAt, g.endedBy, g.endReason, g.revokePending]),
      [
        ['e2', 'expired', T0 + 1000, 'system', 'expired', true],
        ['e1', 'expired', T0 + 2000, 'system', 'expired', false],
      ],
    );
    assert.equal(await s.read((tx) => tx.grants.nextDue(LEADS)).then((t) => t !== null && t <= T0 + 9000), true, "no later than e3's end");
  });

  test('credentials_keptOnlyWhileTheGrantIsActive', LIMIT, async () => {
    await s.transaction((tx) => tx.grants.insert(grant('c1')));
    const sealed = Buffer.from([0, 1, 2, 255]);
    assert.equal(await s.transaction((tx) => tx.credentials.put('c1', sealed, T0)), true);
    assert.deepEqual(await s.read((tx) => tx.credentials.sealed('c1')), sealed);
    await s.transaction((tx) => tx.grants.end('c1', 'relinquished', T0 + 1, 'alice', null, false));
    assert.equal(await s.read((tx) => tx.credentials.sealed('c1')), undefined, 'ending the grant wiped them');
    assert.equal(await s.transaction((tx) => tx.credentials.put('c1', sealed, T0 + 2)), false, 'nothing stored for an ended grant');
    assert.equal(await s.transaction((tx) => tx.credentials.put('no-such-grant', sealed, T0)), false);
    assert.equal(await s.transaction((tx) => tx.credentials.purge()), 0);
  });

  test('tokens_revokeOnce_touch_list', LIMIT, async () => {
    const hash = Buffer.alloc(32, 7);
    await s.transaction((tx) => tx.tokens.insert({ id: 't1', userId: 'alice', hash, label: 'laptop', createdAt: T0, expiresAt: null }));
    assert.equal((await s.read((tx) => tx.tokens.byHash(hash)))?.id, 't1');
    await s.transaction((tx) => tx.tokens.touch('t1', T0 + 5));
    assert.equal(await s.transaction((tx) => tx.tokens.revoke('t1', T0 + 9)), true);
    assert.equal(await s.transaction((tx) => tx.tokens.revoke('t1', T0 + 10)), false);
    assert.deepEqual(await s.read((tx) => tx.tokens.get('t1')), {
      id: 't1',
      userId: 'alice',
      hash,
      label: 'laptop',
      createdAt: T0,
      expiresAt: null,
      revokedAt: T0 + 9,
      lastUsedAt: T0 + 5,
    });
    assert.deepEqual(
      (await s.read((tx) => tx.tokens.list('alice'))).map((t) => t.id),
      ['t1'],
    );
  });

  test('users_upsertAndDeactivate', LIMIT, async () => {
    await s.transaction((tx) => tx.users.upsert({ id: 'u1', name: 'U', groups: ['dba'], roles: [] }));
    await s.transaction((tx) => tx.users.deactivate('u1'));
    assert.deepEqual(await s.read((tx) => tx.users.list()), [{ id: 'u1', name: 'U', groups: ['dba'], roles: [], active: false }]);
    await s.transaction((tx) => tx.users.upsert({ id: 'u1', name: 'U2', groups: [], roles: ['admin'] }));
    assert.deepEqual(await s.read((tx) => tx.users.list()), [{ id: 'u1', name: 'U2', groups: [], roles: ['admin'], active: true }]);
  });

  test('outbox_enqueueClaimRetryDone', LIMIT, async () => {
    await s.transaction((tx) => tx.outbox.enqueue('provision', 'og', { grantId: 'og', n: 1 }, T0));
    const [item] = await s.transaction((tx) => tx.outbox.claim(T0, 10, 30_000));
    assert.deepEqual([item.kind, item.grantId, item.payload, item.attempts, item.nextAttemptAt], ['provision', 'og', { grantId: 'og', n: 1 }, 0, T0 + 30_000]);
    await s.transaction((tx) => tx.outbox.retry(item.id, T0 + 5000, 'boom'));
    assert.equal(await s.read((tx) => tx.outbox.next()), T0 + 5000);
    const open1 = await s.read((tx) => tx.outbox.openForGrant('og'));
    assert.deepEqual([open1[0].attempts, open1[0].lastError], [1, 'boom']);
    await s.transaction((tx) => tx.outbox.done(item.id, T0 + 6000));
    assert.deepEqual(await s.read((tx) => tx.outbox.openForGrant('og')), []);
    assert.equal(await s.read((tx) => tx.outbox.next()), null);
  });

  test('identity_deviceCodesLoginsAndUsers', LIMIT, async () => {
    const h = (n: number) => Buffer.alloc(32, n);
    await s.transaction((tx) =>
      tx.identity.insertDevice({
        id: 'd1',
        deviceHash: h(1),
        userCodeHash: h(2),
        intervalS: 5,
        createdAt: T0,
        expiresAt: T0 + 600_000,
        clientIp: '::1',
        clientName: 'VS Code',
      }),
    );
    assert.equal((await s.read((tx) => tx.identity.deviceByHash(h(1))))?.id, 'd1');
    assert.equal((await s.read((tx) => tx.identity.deviceByUserCode(h(2))))?.status, 'pending');
    await s.transaction((tx) => tx.identity.recordPoll('d1', T0 + 5, 10));
    assert.equal(await s.transaction((tx) => tx.identity.approveDevice('d1', 'alice')), true);
    assert.equal(await s.transaction((tx) => tx.identity.denyDevice('d1', 'no')), false);
    assert.equal(await s.transaction((tx) => tx.identity.consumeDevice('d1')), true);
    assert.equal(await s.transaction((tx) => tx.identity.consumeDevice('d1')), false);
    assert.deepEqual(await s.read((tx) => tx.identity.device('d1')), {
      id: 'd1',
      status: 'consumed',
      userId: 'alice',
      deniedReason: null,
      intervalS: 10,
      createdAt: T0,
      expiresAt: T0 + 600_000,
      lastPolledAt: T0 + 5,
      clientIp: '::1',
      clientName: 'VS Code',
    });
    const login = { deviceId: 'd1', browserHash: h(3), nonce: 'n', codeVerifier: 'v', createdAt: T0, expiresAt: T0 + 600_000 };
    await s.transaction((tx) => tx.identity.insertLogin(h(4), login));
    assert.equal(await s.transaction((tx) => tx.identity.useLogin(h(4), T0 + 1)), true);
    assert.equal(await s.transaction((tx) => tx.identity.useLogin(h(4), T0 + 2)), false);
    assert.deepEqual(await s.read((tx) => tx.identity.login(h(4))), { ...login, usedAt: T0 + 1 });
    const u = { id: 'alice', issuer: 'https://idp', subject: 'sub-1', name: 'Alice', email: 'a@x', groups: ['dba'], roles: ['approver'] };
    await s.transaction((tx) => tx.identity.recordSignIn(u, T0));
    assert.equal(await s.transaction((tx) => tx.identity.disable('alice', T0 + 1)), true);
    assert.equal(await s.transaction((tx) => tx.identity.disable('alice', T0 + 2)), false);
    assert.equal(await s.transaction((tx) => tx.identity.disable('never-seen', T0 + 3)), true);
    assert.deepEqual(await s.read((tx) => tx.identity.user('alice')), { ...u, lastSignInAt: T0, disabledAt: T0 + 1 });
    assert.equal(await s.transaction((tx) => tx.identity.enable('alice')), true);
    assert.deepEqual(
      (await s.read((tx) => tx.identity.users())).map((x) => [x.id, x.disabledAt]),
      [
        ['alice', null],
        ['never-seen', T0 + 3],
      ],
    );
    await s.transaction((tx) => tx.identity.purge(T0 + 600_000));
    assert.equal(await s.read((tx) => tx.identity.device('d1')), undefined);
    assert.equal(await s.read((tx) => tx.identity.login(h(4))), undefined);
  });

  test('transaction_fnThrows_nothingItWroteRemains', LIMIT, async () => {
    await assert.rejects(
      s.transaction(async (tx) => {
        await tx.requests.insert(request('rollback-me'));
        await tx.audit.append([event(1)]);
        throw new Error('changed my mind');
      }),
      /changed my mind/,
    );
    assert.equal(await s.read((tx) => tx.requests.get('rollback-me')), undefined);
  });

  test('transaction_failedStatementCaughtInsideFn_doesNotPretendToCommit', LIMIT, async () => {
    await s.transaction((tx) => tx.requests.insert(request('dup')));
    await assert.rejects(
      s.transaction(async (tx) => {
        await tx.requests.insert(request('dup-other'));
        await tx.requests.insert(request('dup')).catch(() => {});
      }),
    );
    assert.equal(await s.read((tx) => tx.requests.get('dup-other')), undefined);
  });

  test('transaction_connectionLostMidway_rejectsAsUnavailable_andNothingIsWritten', LIMIT, async () => {
    let holding!: () => void;
    const isHolding = new Promise<void>((r) => (holding = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const writing = s.transaction(async (tx) => {
      await tx.requests.insert(request('lost'));
      holding();
      await gate;
      await tx.requests.insert(request('lost-2'));
    });
    await isHolding;
    // the server ends the session (as a crash or a network cut would)
    await pg.admin('postgres', `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND state = 'idle in transaction'`, [dbName]);
    release();
    await rejectsUnavailable(writing);
    assert.equal(await s.read((tx) => tx.requests.get('lost')), undefined);
    await s.transaction((tx) => tx.requests.insert(request('after-loss')));
    assert.ok(await s.read((tx) => tx.requests.get('after-loss')));
  });

  test('pooledConnectionsTheServerEnded_areReplaced_withoutAnErrorToTheCaller', LIMIT, async () => {
    await s.read((tx) => tx.requests.get('warm-up'));
    // every idle connection of the pool is ended by the server (as a restart does)
    await pg.admin('postgres', `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND state = 'idle' AND query NOT LIKE 'LISTEN %'`, [
      dbName,
    ]);
    assert.equal(await s.read((tx) => tx.requests.get('nothing-here')), undefined);
    await s.transaction((tx) => tx.requests.insert(request('after-terminate')));
    assert.ok(await s.read((tx) => tx.requests.get('after-terminate')));
  });

  test('read_cannotWrite', LIMIT, async () => {
    await assert.rejects(
      s.read((tx) => tx.requests.insert(request('from-a-read'))),
      /readonly/,
    );
    await assert.rejects(
      s.read((tx) => tx.audit.append([event(1)])),
      /readonly/,
    );
    assert.equal(await s.read((tx) => tx.requests.get('from-a-read')), undefined);
  });

  test('opsCounts_countsWhatTheGaugesShow', LIMIT, async () => {
    const c = await s.opsCounts(T0);
    assert.equal(typeof c.activeGrants, 'number');
    assert.ok(c.pendingRequests >= 1);
    assert.equal(c.outboxDepth, 0);
    assert.equal(c.outboxOldestCreatedAt, null);
  });
});

describe('the audit chain on PostgreSQL', () => {
  after(closeAll);
  let s: Store;
  let db: string;
  before(async () => {
    db = await pg.freshDatabase();
    s = await storeOn(db);
  });

  // these inputs' chain as SQLite writes it: computed by the storage code before the Store
  // interface (server/db/audit.ts, deleted since 9305afc), so files written by earlier releases keep verifying
  const SQLITE_HASHES = [
    '17905967eaa52b827080e645264cfc0cdb6a2da5774684387b62a6c7dd1d8a75',
    'f71d083897a2545d6e40267a2a604359e7c7322fc0c9b1758bd6139a13b377b8',
    'a45fe756f1546c0ff11bcdf2f5971defb1d4ab38d9bb4b0b2e91fb3510003c8c',
  ];

  test('theFollowQuery_seeksTheFollowedRowsIndex_notEveryAccessCheck', LIMIT, async () => {
    // the planner uses the partial index only while the query repeats its WHERE (migration 7)
    const c = new pgClient.Client({ connectionString: pg.url(db) });
    await c.connect();
    try {
      await c.query('SET enable_seqscan = off'); // a tiny table would be scanned anyway
      for (const controlsOnly of ['', ' AND live IS NULL']) {
        // the store's own statement, the head beside the rows
        const sql = `EXPLAIN ${followSql(controlsOnly)}`;
        const plan = await c.query<{ 'QUERY PLAN': string }>(sql, [0, 500]);
        assert.match(plan.rows.map((r) => r['QUERY PLAN']).join('\n'), /audit_followed/, controlsOnly);
      }
    } finally {
      await c.end();
    }
  });

  test('append_hashesExactlyAsSQLiteDoes_andVerifies', LIMIT, async () => {
    const inputs = [
      event(1),
      event(2, { action: 'grant.expired', grantId: 'g', live: '{"type":"grant.ended"}' }),
      event(3, { actorId: 'system', subjectId: undefined, resourceId: undefined, details: {} }),
    ];
    const onPg = [...(await s.transaction((tx) => tx.audit.append(inputs.slice(0, 2)))), ...(await s.transaction((tx) => tx.audit.append(inputs.slice(2))))];
    // and today's SQLite store still writes that chain
    const dir = mkdtempSync(join(tmpdir(), 'elevate-sqlite-'));
    const sqlite = new SqliteStore(join(dir, 'elevate.db'), { groupCommit: false, serverLock: false, checkpointer: false, verify: 'inline' });
    let onSqlite;
    try {
      onSqlite = await sqlite.transaction((tx) => tx.audit.append(inputs));
    } finally {
      await sqlite.close();
      rmSync(dir, { recursive: true, force: true });
    }
    assert.deepEqual(
      onPg.map((e) => e.hash),
      SQLITE_HASHES,
    );
    assert.deepEqual(
      onSqlite.map((e) => e.hash),
      SQLITE_HASHES,
    );
    assert.deepEqual(await s.read((tx) => tx.audit.head()), { seq: 3, hash: SQLITE_HASHES[2] });
    const stored = await pg.admin<{ details: string }>(db, 'SELECT details FROM audit WHERE seq = 1');
    assert.equal(stored[0].details, '{"a":[1,{"b":"ü\u2028\\"","c":null}],"m":{"x":1.5,"y":true},"z":1}');
    const v = await s.verifyAudit();
    assert.deepEqual(v, { ok: true, count: 3, headHash: SQLITE_HASHES[2] });
    assert.equal((await s.verifyAudit({ head: { seq: 2, hash: SQLITE_HASHES[1] } })).ok, true);
    assert.equal((await s.verifyAudit({ head: { seq: 2, hash: 'f'.repeat(64) } })).ok, false);
  });

  test('readBack_query_iterate_follow', LIMIT, async () => {
    const q = await s.read((tx) => tx.audit.query({ limit: 2 }));
    assert.deepEqual(
      q.events.map((e) => e.seq),
      [3, 2],
    );
    assert.equal(q.nextCursor, '2');
    const mine = await s.read((tx) => tx.audit.query({ visibleTo: 'alice', limit: 10 }));
    assert.deepEqual(
      mine.events.map((e) => e.seq),
      [2, 1],
    );
    assert.deepEqual(mine.events[1].details, event(1).details);
    const all: number[] = [];
    const lives: (string | null)[] = [];
    await s.read(async (tx) => {
      for await (const e of tx.audit.iterate({ afterSeq: 1 })) {
        all.push(e.seq);
        lives.push(e.live);
      }
    });
    assert.deepEqual(all, [2, 3]);
    assert.deepEqual(lives, ['{"type":"grant.ended"}', null]);
    const { events: followed } = await s.read((tx) => tx.audit.follow(0, 10));
    assert.deepEqual(
      followed.map((f) => [f.seq, f.live]),
      [[2, '{"type":"grant.ended"}']],
    );
  });

  test('auditRows_cannotBeChangedOrRemoved', LIMIT, async () => {
    await assert.rejects(pg.admin(db, `UPDATE audit SET details = '{}' WHERE seq = 1`), /append-only/);
    await assert.rejects(pg.admin(db, 'DELETE FROM audit WHERE seq = 3'), /append-only/);
    await assert.rejects(pg.admin(db, 'TRUNCATE audit'), /append-only/);
  });

  test('verify_anEditBehindTheServersBack_failsAtThatSeq', LIMIT, async () => {
    const tampered = await pg.freshDatabase();
    const t = await storeOn(tampered);
    await t.transaction((tx) => tx.audit.append([event(1), event(2), event(3)]));
    await pg.admin(tampered, `ALTER TABLE audit DISABLE TRIGGER audit_no_update; UPDATE audit SET details = '{"z":99}' WHERE seq = 2`);
    const v = await t.verifyAudit();
    assert.deepEqual([v.ok, v.firstBadSeq, v.problem, v.count], [false, 2, 'hash mismatch', 1]);
  });

  test('verifyAudit_state_rowsTheLogExplains_agree', LIMIT, async () => {
    // the rows as PostgreSQL keeps them (booleans, bytea) compare equal to what the log says
    const fresh = await pg.freshDatabase();
    const t = await storeOn(fresh);
    const hash = Buffer.alloc(32, 9);
    const r = request('rs', { autoApproved: true, breakGlass: false, required: 0, evaluation: { autoApproveRule: 1, reasons: ['rule 1'] } });
    await t.transaction(async (tx) => {
      await tx.requests.insert(r);
      await tx.tokens.insert({ id: 'ts', userId: 'alice', hash, label: null, createdAt: T0, expiresAt: null });
      await tx.audit.append([
        {
          at: T0,
          actorId: 'alice',
          action: 'request.created',
          resourceId: 'prod-db',
          requestId: 'rs',
          subjectId: 'alice',
          details: {
            kind: 'access',
            role: 'read',
            durationSeconds: 3600,
            justification: r.justification,
            ticket: r.ticket,
            required: 0,
            autoApproved: true,
            breakGlass: false,
            autoApproveRule: 1,
            reasons: ['rule 1'],
            pendingUntil: new Date(r.pendingUntil).toISOString(),
          },
        },
        {
          at: T0,
          actorId: 'admin',
          action: 'token.issued',
          subjectId: 'alice',
          details: { tokenId: 'ts', userId: 'alice', label: null, expiresAt: null, fingerprint: createHash('sha256').update(hash).digest('hex') },
        },
      ]);
    });
    const v = await t.verifyAudit({ state: true });
    assert.deepEqual(v.state, { ok: true, rows: { requests: 1, approvals: 0, grants: 0, tokens: 1, idpUsers: 0 }, problems: [] });
  });

  test('verifyAudit_state_findsRowsTheLogDoesNotExplain', LIMIT, async () => {
    const fresh = await pg.freshDatabase();
    const t = await storeOn(fresh);
    await t.transaction((tx) => tx.audit.append([event(1)]));
    const clean = await t.verifyAudit({ state: true });
    assert.equal(clean.ok, true);
    assert.deepEqual(clean.state, { ok: true, rows: { requests: 0, approvals: 0, grants: 0, tokens: 0, idpUsers: 0 }, problems: [] });
    await t.transaction((tx) => tx.grants.insert(grant('smuggled')));
    const found = await t.verifyAudit({ state: true });
    assert.equal(found.ok, true, 'the chain itself is intact');
    assert.deepEqual(found.state?.problems, [{ table: 'grants', id: 'smuggled', kind: 'unexplained' }]);
  });
});

describe('round trips of a transaction on PostgreSQL', () => {
  after(closeAll);
  const ends: (() => Promise<void>)[] = [];
  after(async () => {
    for (const end of ends) await end();
  });

  /**
   * A store on a migrated database whose every message to PostgreSQL is counted (one query()
   * call is one round trip), with `options` for its sessions.
   */
  async function countedStore(options = '') {
    const db = await pg.freshDatabase();
    await storeOn(db); // migrates
    const config: pgClient.ClientConfig = { connectionString: pg.url(db), types };
    const pool = new pgClient.Pool({ ...config, max: 2, ...(options && { options }) });
    const sent: string[] = [];
    // as openPostgresStore does: a connection the server ends while idle is dropped, not thrown
    pool.on('error', () => {});
    pool.on('connect', (client) => {
      client.on('error', () => {});
      const query = client.query.bind(client) as (...a: unknown[]) => unknown;
      Object.assign(client, {
        query: (...a: unknown[]) => {
          const q = a[0];
          sent.push(typeof q === 'string' ? q : String((q as { text?: unknown }).text));
          return query(...a);
        },
      });
    });
    const s = new PgStore({ pool, config, password: undefined });
    await s.start();
    ends.push(() => s.close());
    return { s, sent, db };
  }

  test('anAccessCheckBatch_isTwoRoundTrips_BEGINWithTheLockAndHead_theRowsWithTheCOMMIT', LIMIT, async () => {
    const { s, sent } = await countedStore();
    await s.transaction((tx) => tx.audit.append([event(1, { action: 'access.checked' }), event(2, { action: 'access.checked' })]));
    assert.equal(sent.length, 2, sent.join('\n---\n'));
    assert.match(sent[0], /^BEGIN; SELECT pg_advisory_xact_lock\(.*; SELECT seq, hash FROM audit/);
    assert.match(sent[1], /^INSERT INTO audit .*; COMMIT$/s);
    assert.deepEqual(await s.verifyAudit(), { ok: true, count: 2, headHash: (await s.read((tx) => tx.audit.head())).hash });
  });

  test('aChangeWithParameters_sendsBEGINAhead_andItsEventsWithTheCOMMITAndTheNotification', LIMIT, async () => {
    const { s, sent } = await countedStore();
    await s.transaction(async (tx) => {
      await tx.requests.insert(request('rt-1'));
      await tx.audit.append([event(1, { action: 'request.created', live: '{}' })]);
    });
    assert.deepEqual(
      sent.map((q) => q.slice(0, 20)),
      ['BEGIN', 'INSERT INTO requests', 'SELECT pg_advisory_x', 'INSERT INTO audit (s'],
    );
    assert.match(sent[3], /; SELECT pg_notify\('elevate_commits', '[^']*:1'\); COMMIT$/);
    assert.ok(await s.read((tx) => tx.requests.get('rt-1')));
  });

  test('aStatementAfterAnAppend_inTheSameTransaction_seesTheAppendedEvents', LIMIT, async () => {
    const { s } = await countedStore();
    const seen = await s.transaction(async (tx) => {
      await tx.audit.append([event(1), event(2)]);
      return (await tx.audit.query({ limit: 10 })).events.map((e) => e.seq);
    });
    assert.deepEqual(seen, [2, 1]);
  });

  test('aTransactionThatSendsNothing_costsNoRoundTrip', LIMIT, async () => {
    const { s, sent } = await countedStore();
    assert.equal(await s.transaction(() => Promise.resolve(7)), 7);
    assert.equal(sent.length, 0);
  });

  test('auditText_quotesBackslashesAndSQL_isStoredExactly_evenWithoutStandardConformingStrings', LIMIT, async () => {
    // the INSERT writes its values as literals: nothing in them may end a literal or start a statement
    for (const options of ['', '-c standard_conforming_strings=off']) {
      const { s, db } = await countedStore(options);
      const hostile = `o'brien\\'); DELETE FROM audit; -- $$ \\x41 \u2028 ü 🙂`;
      const [e] = await s.transaction((tx) =>
        tx.audit.append([event(1, { actorId: hostile, resourceId: `\\'`, subjectId: undefined, details: { note: hostile, q: "'" }, live: hostile })]),
      );
      const rows = await pg.admin<{ actor_id: string; resource_id: string; subject_id: string | null; details: string; live: string }>(
        db,
        'SELECT actor_id, resource_id, subject_id, details, live FROM audit',
      );
      assert.deepEqual(rows, [{ actor_id: hostile, resource_id: `\\'`, subject_id: null, details: JSON.stringify({ note: hostile, q: "'" }), live: hostile }]);
      assert.deepEqual(await s.verifyAudit(), { ok: true, count: 1, headHash: e.hash });
    }
  });

  test('aPooledConnectionTheServerEnded_isReplaced_whenTheFirstStatementIsTheAppend', LIMIT, async () => {
    const { s, db } = await countedStore();
    await s.transaction((tx) => tx.audit.append([event(1)]));
    await pg.admin('postgres', `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND state = 'idle' AND query NOT LIKE 'LISTEN %'`, [
      db,
    ]);
    await s.transaction((tx) => tx.audit.append([event(2)]));
    assert.equal((await s.verifyAudit()).count, 2);
  });
});

describe('several Store instances on one database (replicas)', () => {
  afterEach(closeAll);
  test('append_200ConcurrentlyFromThreeInstances_seqGaplessAndChainVerifies', LIMIT, async () => {
    const stores = await replicas(3);
    const appended = await Promise.all(
      Array.from({ length: 200 }, (_, i) => stores[i % 3].transaction((tx) => tx.audit.append([event(i, { details: { i } })]))),
    );
    const seqs = appended
      .flat()
      .map((e) => e.seq)
      .sort((a, b) => a - b);
    assert.deepEqual(
      seqs,
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    for (const s of stores) {
      const v = await s.verifyAudit();
      assert.deepEqual([v.ok, v.count], [true, 200]);
    }
    // each event's prevHash is the hash of the one before it in seq order: one chain, no forks
    const bySeq = new Map(appended.flat().map((e) => [e.seq, e]));
    for (let n = 2; n <= 200; n++) assert.equal(bySeq.get(n)!.prevHash, bySeq.get(n - 1)!.hash);
  });

  test('expireDue_concurrentOnThreeInstances_expiresEveryGrantExactlyOnce', LIMIT, async () => {
    const stores = await replicas(3);
    await stores[0].transaction(async (tx) => {
      for (let i = 0; i < 300; i++) await tx.grants.insert(grant(`x${i}`, { expiresAt: T0 + (i % 50) }));
    });
    const claimed: string[][] = [[], [], []];
    await Promise.all(
      stores.map(async (s, k) => {
        for (;;) {
          const batch = await s.transaction((tx) => tx.grants.expireDue(T0 + 1000, 25, []));
          if (batch.length === 0) return;
          claimed[k].push(...batch.map((g) => g.id));
        }
      }),
    );
    const all = claimed.flat();
    assert.equal(all.length, 300, 'no grant twice');
    assert.equal(new Set(all).size, 300, 'every grant once');
    assert.equal(await stores[1].read((tx) => tx.grants.nextDue(LEADS)), null, 'nothing left to expire');
  });

  test('decide_sameRequestOnThreeInstancesAtOnce_exactlyOneApplies', LIMIT, async () => {
    const stores = await replicas(3);
    await stores[0].transaction((tx) => tx.requests.insert(request('race')));
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => stores[i % 3].transaction((tx) => tx.requests.decide('race', i % 2 ? 'approved' : 'denied', T0 + i, null))),
    );
    assert.equal(results.filter(Boolean).length, 1);
  });

  test('approvals_twoApproversNeedingEachOther_onTwoInstances_secondSeesTheFirst', LIMIT, async () => {
    // required: 2. Each approver adds their approval, counts, and approves once there are two.
    // Under READ COMMITTED, two approvers that both count before either commits would each see
    // only their own approval (write skew) and the request would stay pending for good.
    // approvals.add serialises them on the request row: B waits for A's commit, then counts two.
    const [a, b] = await replicas(2);
    await a.transaction((tx) => tx.requests.insert(request('two', { required: 2 })));
    const approve = (s: Store, approverId: string, beforeCount: () => Promise<void>, afterCount: () => Promise<void>) =>
      s.transaction(async (tx) => {
        assert.equal(await tx.approvals.add({ requestId: 'two', approverId, decision: 'approve', comment: null, at: T0 }), true);
        await beforeCount();
        const n = (await tx.approvals.of('two')).length;
        await afterCount();
        return n >= 2 ? tx.requests.decide('two', 'approved', T0, null) : false;
      });
    let bCounted = false;
    let aCounted!: () => void;
    const aHasCounted = new Promise<void>((r) => (aCounted = r));
    let bStart!: () => void;
    const bMayStart = new Promise<void>((r) => (bStart = r));
    const first = approve(
      a,
      'bob',
      async () => {
        // A holds its approval uncommitted until B is blocked behind it or (without the lock) has counted
        bStart();
        await waitFor(async () => bCounted || (await lockWaiters()) > 0);
      },
      async () => aCounted(),
    );
    await bMayStart;
    const second = approve(
      b,
      'carol',
      async () => {},
      async () => {
        bCounted = true;
        await aHasCounted;
      },
    );
    assert.deepEqual(await Promise.all([first, second]), [false, true]);
    assert.equal((await a.read((tx) => tx.requests.get('two')))?.status, 'approved');
  });

  test('extensionRequests_twoInstancesCreatingTheOnePendingOneOfAGrant_oneConflicts', LIMIT, async () => {
    const [a, b] = await replicas(2);
    const ext = (id: string) => request(id, { kind: 'extension', grantId: 'g-ext', durationS: 900 });
    const results = await Promise.allSettled([
      a.transaction((tx) => tx.requests.insert(ext('ext-a'))),
      b.transaction((tx) => tx.requests.insert(ext('ext-b'))),
    ]);
    assert.deepEqual(results.map(codeOf).sort(), [STORE_CONFLICT, 'ok']);
    assert.ok(await a.read((tx) => tx.requests.pendingExtension('g-ext')));
  });

  test('deadlock_betweenTwoInstances_oneTransactionConflicts_theOtherCommitsWhole', LIMIT, async () => {
    const [a, b] = await replicas(2);
    await a.transaction(async (tx) => {
      await tx.requests.insert(request('dx'));
      await tx.requests.insert(request('dy'));
    });
    let arrived = 0;
    let bothHoldOne!: () => void;
    const barrier = new Promise<void>((r) => (bothHoldOne = r));
    const crosswise = (s: Store, first: string, second: string) =>
      s.transaction(async (tx) => {
        assert.equal(await tx.requests.decide(first, 'cancelled', T0, null), true);
        if (++arrived === 2) bothHoldOne();
        await barrier;
        return tx.requests.decide(second, 'cancelled', T0, null);
      });
    const results = await Promise.allSettled([crosswise(a, 'dx', 'dy'), crosswise(b, 'dy', 'dx')]);
    assert.deepEqual(results.map(codeOf).sort(), [STORE_CONFLICT, 'ok']);
    const winner = results.find((r) => r.status === 'fulfilled');
    assert.equal(winner?.status === 'fulfilled' && winner.value, true);
    assert.deepEqual(await a.read(async (tx) => [(await tx.requests.get('dx'))?.status, (await tx.requests.get('dy'))?.status]), ['cancelled', 'cancelled']);
  });

  test('extend_sameGrantOnTwoInstancesAtOnce_exactlyOneApplies', LIMIT, async () => {
    const [a, b] = await replicas(2);
    await a.transaction((tx) => tx.grants.insert(grant('gx')));
    const results = await Promise.all(
      [a, b, a, b].map((s, i) => s.transaction((tx) => tx.grants.extend('gx', T0 + HOUR, T0 + HOUR + (i + 1) * 60_000, T0 + 4 * HOUR))),
    );
    assert.equal(results.filter(Boolean).length, 1);
    assert.equal((await a.read((tx) => tx.grants.get('gx')))?.extensions, 1);
  });

  test('credentials_storedWhileAnotherInstanceEndsTheGrant_doNotOutliveIt', LIMIT, async () => {
    // A ends the grant and holds its transaction open; B stores credentials for it meanwhile.
    // B's insert reads the grant FOR SHARE, so it waits for A's commit and then stores nothing.
    const [a, b] = await replicas(2);
    await a.transaction((tx) => tx.grants.insert(grant('gc')));
    let ended!: () => void;
    const hasEnded = new Promise<void>((r) => (ended = r));
    let bDone = false;
    const ending = a.transaction(async (tx) => {
      assert.equal(await tx.grants.end('gc', 'revoked', T0 + 1, 'bob', 'incident over', false), true);
      ended();
      // commit only once B is blocked behind us (or, without the lock, has stored its row)
      await waitFor(async () => bDone || (await lockWaiters()) > 0);
    });
    await hasEnded;
    const storing = b.transaction((tx) => tx.credentials.put('gc', Buffer.from('sealed'), T0 + 2)).finally(() => (bDone = true));
    await ending;
    assert.equal(await storing, false, 'nothing stored for a grant that ended');
    assert.equal(await a.read((tx) => tx.credentials.sealed('gc')), undefined);
  });

  test('outbox_claimNotFinished_isClaimableAgainAfterTheLease_notBefore', LIMIT, async () => {
    const [a, b] = await replicas(2);
    await a.transaction((tx) => tx.outbox.enqueue('provision', 'g', { n: 1 }, T0));
    const lease = 30_000;
    const [held] = await a.transaction((tx) => tx.outbox.claim(T0, 10, lease));
    assert.ok(held);
    assert.deepEqual(await b.transaction((tx) => tx.outbox.claim(T0, 10, lease)), [], 'held by A');
    assert.deepEqual(await b.transaction((tx) => tx.outbox.claim(T0 + lease - 1, 10, lease)), [], 'still within the lease');
    const [again] = await b.transaction((tx) => tx.outbox.claim(T0 + lease, 10, lease));
    assert.equal(again?.id, held.id, 'A died with it: B takes it up');
  });

  test('outbox_concurrentClaims_neverHandOneItemToTwo', LIMIT, async () => {
    const stores = await replicas(3);
    await stores[0].transaction(async (tx) => {
      for (let i = 0; i < 150; i++) await tx.outbox.enqueue('provision', `g${i}`, { i }, T0);
    });
    const got = await Promise.all(stores.flatMap((s) => [0, 1, 2].map(() => s.transaction((tx) => tx.outbox.claim(T0, 20, 60_000)))));
    const ids = got.flat().map((o) => o.id);
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(ids.length, 150);
  });

  test('onCommitted_aCommitOnOneInstance_wakesTheOthers', LIMIT, async () => {
    const [a, b] = await replicas(2);
    const woken = new Promise<void>((resolve) => {
      const off = b.onCommitted(() => {
        off();
        resolve();
      });
    });
    // a stream event: what the other replicas act on (only such commits notify them)
    await a.transaction((tx) => tx.audit.append([event(1, { live: '{"type":"x"}' })]));
    await woken;
    const seen = await b.read((tx) => tx.audit.follow(0, 10));
    assert.equal(seen.head, 1);
  });

  test('onCommitted_aCommitNobodyFollows_wakesNoOtherInstance', LIMIT, async () => {
    const [a, b] = await replicas(2);
    let woken = 0;
    const off = b.onCommitted(() => woken++);
    // a batch of access checks and a token's last use: high volume, and no replica acts on them
    await a.transaction((tx) => tx.audit.append([event(1, { action: 'access.checked' }), event(2, { action: 'access.checked' })]));
    await new Promise((r) => setTimeout(r, 500));
    off();
    assert.equal(woken, 0);
  });

  test('once_threeConcurrentCallers_exactlyOneRuns', LIMIT, async () => {
    const stores = await replicas(3);
    let runs = 0;
    let othersDone!: () => void;
    const othersReturned = new Promise<void>((r) => (othersDone = r));
    let returned = 0;
    const results = await Promise.all(
      stores.map(async (s) => {
        const r = await s.once('reconcile', async () => {
          runs++;
          await othersReturned; // hold the lock until both others have been turned away
          return 'ran';
        });
        if (r === undefined && ++returned === 2) othersDone();
        return r;
      }),
    );
    assert.equal(runs, 1);
    assert.deepEqual(results.filter((r) => r === 'ran').length, 1);
    // released afterwards: the next caller runs
    assert.equal(await stores[1].once('reconcile', async () => 'again'), 'again');
  });

  test('once_fnsTransactions_doNotWaitForTheLocksConnection', LIMIT, async () => {
    const db = await pg.freshDatabase();
    const s = await storeOn(db, { poolSize: 1 });
    const r = await s.once('reconcile', () => s.transaction(async (tx) => (await tx.requests.allPending()).length));
    assert.equal(r, 0);
  });
});

/** How many sessions wait for a lock right now (on any database of the cluster). */
async function lockWaiters(): Promise<number> {
  const rows = await pg.admin<{ n: string }>('postgres', `SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'`);
  return Number(rows[0].n);
}

/** How many sessions on `database` LISTEN for commits (one per open store). */
async function listeners(database: string): Promise<number> {
  const rows = await pg.admin<{ n: string }>('postgres', `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'LISTEN %'`, [database]);
  return Number(rows[0].n);
}

/** Polls `cond` until it holds (bounded by the test's time limit). */
async function waitFor(cond: () => Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 20));
}

// The contract every backend keeps, each case on a fresh database: a copy of one migrated
// template (cheap), dropped afterwards.
let template: string | undefined;
storeContract('PostgreSQL', async () => {
  if (!template) {
    const name = await pg.freshDatabase('contract_template');
    await (await openPostgresStore(pg.url(name), { poolSize: 1 })).close();
    template = name;
  }
  const db = await pg.freshDatabase('contract', template);
  const store = await openPostgresStore(pg.url(db), { poolSize: 4 });
  return {
    store,
    async cleanup() {
      await store.close();
      await pg.admin('postgres', `DROP DATABASE ${db}`);
    },
  };
});

describe('closing a PostgreSQL store', () => {
  after(closeAll);
  test('close_waitsForTransactionsInFlight_thenRefusesNewOnes', LIMIT, async () => {
    const db = await pg.freshDatabase();
    const s = await openPostgresStore(pg.url(db), { poolSize: 2 });
    const writing = s.transaction((tx) => tx.requests.insert(request('before-close')));
    await s.close();
    await writing;
    await assert.rejects(
      s.transaction((tx) => tx.requests.get('before-close')),
      /closed/,
    );
    await assert.rejects(
      s.read((tx) => tx.requests.get('before-close')),
      /closed/,
    );
    const rows = await pg.admin<{ id: string }>(db, 'SELECT id FROM requests');
    assert.deepEqual(
      rows.map((r) => r.id),
      ['before-close'],
    );
  });
});

// last: it stops the cluster every other group uses
describe('PostgreSQL restarting under a running store', () => {
  test('restart_operationsRejectWhileDown_andSucceedAfter_withoutReopening', { timeout: 120_000 }, async () => {
    const db = await pg.freshDatabase();
    const lines: string[] = [];
    const logger = { log: (level: string, msg: string, fields?: Record<string, unknown>) => void lines.push(JSON.stringify({ level, msg, ...fields })) };
    const [a, b] = [await storeOn(db, { logger }), await storeOn(db, { logger })];
    await a.transaction((tx) => tx.audit.append([event(1)]));
    await pg.stop();
    await rejectsUnavailable(a.transaction((tx) => tx.audit.append([event(2)])));
    await rejectsUnavailable(a.read((tx) => tx.audit.head()));
    await rejectsUnavailable(a.ping());
    await pg.start();
    await a.ping();
    const [e] = await a.transaction((tx) => tx.audit.append([event(3)]));
    assert.equal(e.seq, 2, 'nothing half-written while it was down');
    // B's listener reconnects by itself (and wakes once to catch up); then a commit on A wakes it again
    await waitFor(async () => (await listeners(db)) === 2);
    await new Promise((r) => setImmediate(r));
    const woken = new Promise<void>((resolve) => {
      const off = b.onCommitted(() => {
        off();
        resolve();
      });
    });
    await a.transaction((tx) => tx.audit.append([event(4, { live: '{"type":"x"}' })]));
    await woken;
    assert.equal((await b.verifyAudit()).count, 3);
    // the outage was told, and no line holds the password
    assert.ok(
      lines.some((l) => l.includes('lost the connection that follows commits')),
      lines.join('\n'),
    );
    assert.ok(lines.some((l) => l.includes('following commits again')));
    assert.ok(!lines.some((l) => l.includes(pg.password)));
  });
});
