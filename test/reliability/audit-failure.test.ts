// Audit under failure: when the audit log cannot be written, the state change does not happen
// either (rule 3), the client gets 503 `unavailable` with the error shape, reads keep working,
// and once the fault is gone writes work again and the chain verifies. On both backends: the
// faults are injected the way each database fails (faultsOf below); the disk-full case that
// fills the file is SQLite's own.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Database } from 'better-sqlite3';
import { onPostgres } from '../helpers/backend.js';
import { errorCode, makeServer, type TestServer } from '../helpers/server.js';
import { errorShapeProblem, openSql, report, type Sql } from './lib.js';

/** Everything that a state change could touch, plus the audit head. */
async function snapshot(db: Sql) {
  return JSON.stringify({
    requests: await db.all('SELECT id, status FROM requests ORDER BY id'),
    grants: await db.all('SELECT id, status, expires_at, extensions FROM grants ORDER BY id'),
    approvals: await db.get('SELECT count(*) AS n FROM approvals'),
    outbox: await db.get('SELECT count(*) AS n FROM outbox'),
    tokens: await db.get('SELECT count(*) AS n, count(revoked_at) AS r FROM tokens'),
    head: await db.get('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1'),
  });
}

/** A server with its database open beside it (a second connection, for snapshots and faults). */
async function serverWithSql(t: { after(fn: () => unknown): void }) {
  const s = await makeServer();
  const sql = await openSql({ spec: s.dbPath });
  t.after(async () => {
    await sql.close();
    await s.close();
  });
  return { s, sql };
}

type Fault = { name: string; apply(): Promise<void>; lift(): Promise<void> };

/** PostgreSQL: every table (but the migrations') refuses writes by a statement trigger. */
const PG_TABLES = `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'schema_migrations'`;
const pgEveryTable = (statement: string) => `DO $$ DECLARE t text; BEGIN FOR t IN ${PG_TABLES} LOOP EXECUTE format('${statement}', t); END LOOP; END $$`;

/**
 * The ways a database refuses writes, injected on this backend. The first refuses every write
 * (the others only the audit log's): the tests that need "nothing can be written" use it.
 */
function faultsOf(s: TestServer, sql: Sql): Fault[] {
  if (sql.kind === 'sqlite') {
    return [
      {
        name: 'query_only',
        apply: async () => void s.sqlite.pragma('query_only = ON'),
        lift: async () => void s.sqlite.pragma('query_only = OFF'),
      },
    ];
  }
  return [
    {
      // what a hot standby after a failover, or default_transaction_read_only, answers (SQLSTATE 25006)
      name: 'read_only',
      apply: () =>
        sql.exec(`CREATE FUNCTION test_read_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'injected: cannot execute % in a read-only transaction', TG_OP USING ERRCODE = 'read_only_sql_transaction'; END $$;
          ${pgEveryTable('CREATE TRIGGER test_read_only BEFORE INSERT OR UPDATE OR DELETE ON %I FOR EACH STATEMENT EXECUTE FUNCTION test_read_only()')}`),
      lift: () => sql.exec(`${pgEveryTable('DROP TRIGGER test_read_only ON %I')}; DROP FUNCTION test_read_only()`),
    },
    {
      // the audit table cannot grow (SQLSTATE 53100 disk_full), every other table can
      name: 'audit_disk_full',
      apply: () =>
        sql.exec(`CREATE FUNCTION test_audit_full() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'injected: could not extend the audit table: No space left on device' USING ERRCODE = 'disk_full'; END $$;
          CREATE TRIGGER test_audit_full BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION test_audit_full()`),
      lift: () => sql.exec('DROP TRIGGER test_audit_full ON audit; DROP FUNCTION test_audit_full()'),
    },
  ];
}

/** The fault that refuses every write on this backend. */
const readOnly = (s: TestServer, sql: Sql) => faultsOf(s, sql)[0];

async function fixtures(s: TestServer) {
  const auto = await s.call('alice', 'POST', '/v1/requests', { resourceId: 'staging-db', role: 'read', durationSeconds: 1800, justification: 'fixture' });
  const pending = await s.call('alice', 'POST', '/v1/requests', { resourceId: 'prod-db', role: 'read', durationSeconds: 600, justification: 'fixture' });
  const pending2 = await s.call('dave', 'POST', '/v1/requests', { resourceId: 'prod-db', role: 'read', durationSeconds: 600, justification: 'fixture' });
  assert.equal(auto.status, 201);
  assert.equal(pending.status, 201);
  return { grantId: auto.body.grant.id as string, requestId: pending.body.request.id as string, requestId2: pending2.body.request.id as string };
}

const writes = (f: Awaited<ReturnType<typeof fixtures>>) =>
  [
    ['alice', 'POST', '/v1/requests', { resourceId: 'staging-db', role: 'read', durationSeconds: 60, justification: 'during the fault' }],
    ['alice', 'POST', '/v1/requests', { resourceId: 'prod-db', role: 'read', durationSeconds: 60, justification: 'during the fault' }],
    ['bob', 'POST', `/v1/requests/${f.requestId}/approve`, { comment: 'ok' }],
    ['bob', 'POST', `/v1/requests/${f.requestId}/deny`, { reason: 'no' }],
    ['dave', 'POST', `/v1/requests/${f.requestId2}/cancel`, undefined],
    ['alice', 'POST', `/v1/grants/${f.grantId}/extend`, { durationSeconds: 60 }],
    ['alice', 'POST', `/v1/grants/${f.grantId}/relinquish`, undefined],
    ['carol', 'POST', `/v1/grants/${f.grantId}/revoke`, { reason: 'fault' }],
  ] as const;

const reads = (f: Awaited<ReturnType<typeof fixtures>>) =>
  [
    ['alice', '/v1/me'],
    ['alice', '/v1/resources'],
    ['alice', '/v1/requests'],
    ['bob', '/v1/requests?scope=reviewable'],
    ['alice', `/v1/requests/${f.requestId}`],
    ['alice', '/v1/grants'],
    ['alice', `/v1/grants/${f.grantId}`],
    ['carol', '/v1/audit?limit=5'],
    ['audrey', '/v1/audit/verify'],
  ] as const;

/** After the fault: a new request is made again, and the chain (batched rows included) verifies. */
async function writesWorkAgain(s: TestServer): Promise<{ count: number }> {
  const fresh = await s.call('alice', 'POST', '/v1/requests', {
    resourceId: 'staging-db',
    role: 'read',
    durationSeconds: 60,
    justification: 'after the fault',
  });
  assert.equal(fresh.status, 201);
  await s.services.batcher.flush();
  const v = await s.store.read((tx) => tx.audit.verify());
  assert.equal(v.ok, true, JSON.stringify(v));
  return v;
}

for (const name of onPostgres ? ['read_only', 'audit_disk_full'] : ['query_only']) {
  test(`auditWriteImpossible_${name}_stateChangesGet503AndChangeNothing_readsKeepWorking`, async (t) => {
    const { s, sql } = await serverWithSql(t);
    const fault = faultsOf(s, sql).find((f) => f.name === name)!;
    const f = await fixtures(s);
    await fault.apply();
    const before = await snapshot(sql);
    for (const [user, method, path, body] of writes(f)) {
      const r = await s.call(user, method, path, body);
      assert.equal(r.status, 503, `${method} ${path}: ${JSON.stringify(r.body)}`);
      assert.equal(errorShapeProblem(r.status, r.body), null);
      assert.equal(errorCode(r), 'unavailable');
      assert.equal(await snapshot(sql), before, `${method} ${path} changed the database`);
    }
    // several at once (one group commit on SQLite, concurrent transactions on PostgreSQL)
    const together = await Promise.all(writes(f).map(([user, method, path, body]) => s.call(user, method, path, body)));
    for (const r of together) assert.equal(r.status, 503, JSON.stringify(r.body));
    assert.equal(await snapshot(sql), before, 'concurrent refused changes changed the database');
    for (const [user, path] of reads(f)) {
      const r = await s.call(user, 'GET', path);
      assert.equal(r.status, 200, `GET ${path} during the fault: ${JSON.stringify(r.body)}`);
    }
    // an hour passes in one step (its timers fire once, as after a suspend), then the sweep,
    // with every fixture due, fails quietly and retries for a while: it must not half-expire
    // anything either (an hour of one-second retries takes half a minute on PostgreSQL)
    s.clock.advance(3600_000);
    await s.advance(10_000);
    assert.equal(await snapshot(sql), before, 'a failing sweep changed the database');
    await fault.lift();
    const after = await s.call('bob', 'POST', `/v1/requests/${f.requestId}/approve`, { comment: 'after the fault' });
    assert.equal(after.status, 409, 'the request lapsed while the server could not write; now it is expired');
    const v = await writesWorkAgain(s);
    report('audit-failure', { backend: sql.kind, fault: name, writesRefused: writes(f).length * 2, readsServed: reads(f).length, chainAfter: v.count });
  });
}

/** The disk is full: no page can be added to the file, and the free pages are used up. */
function fillDisk(db: Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS ballast (x BLOB)');
  db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
  // big rows first, then ever smaller ones, so no free page and little room in them is left
  for (const size of [3000, 1000, 300, 100, 30, 1]) {
    try {
      for (;;) db.prepare(`INSERT INTO ballast VALUES (randomblob(${size}))`).run();
    } catch (e) {
      assert.equal((e as { code?: string }).code, 'SQLITE_FULL');
    }
  }
}

// A full disk (max_page_count) refuses a change only when it needs a new page: one that still
// fits in the room left in existing pages commits, whole. So each change here must be either
// committed with its audit event or refused with 503 and leave nothing behind, and the full
// disk must refuse some: requests with 2,000-character justifications (stored twice: the row
// and its audit event) soon need a page.
test(
  'auditWriteImpossible_diskFull_eachChangeCommitsWholeOrIs503AndChangesNothing_readsKeepWorking',
  { skip: onPostgres ? 'SQLite only: fills the file up to max_page_count; on PostgreSQL audit_disk_full above refuses every audit append' : false },
  async (t) => {
    const { s, sql } = await serverWithSql(t);
    const f = await fixtures(s);
    fillDisk(s.sqlite);
    let refused = 0;
    let committed = 0;
    for (let i = 0; i < 100 && refused < 3; i++) {
      const before = await snapshot(sql);
      const justification = `${i} ${'the disk is full '.repeat(200)}`.slice(0, 2000);
      const r = await s.call('alice', 'POST', '/v1/requests', { resourceId: 'prod-db', role: 'read', durationSeconds: 60, justification });
      if (r.status === 503) {
        refused++;
        assert.equal(errorShapeProblem(r.status, r.body), null);
        assert.equal(errorCode(r), 'unavailable');
        assert.equal(await snapshot(sql), before, 'a refused change left something behind');
      } else {
        assert.equal(r.status, 201, JSON.stringify(r.body));
        committed++;
        const id = r.body.request.id as string;
        const events = await sql.get<{ n: number }>(`SELECT count(*) AS n FROM audit WHERE request_id = ? AND action = 'request.created'`, id);
        assert.equal(events?.n, 1, 'a committed request without its audit event');
      }
    }
    assert.ok(refused > 0, `the full disk never refused a change (${committed} committed)`);
    // several at once share one transaction (group commit): when one of them fills the disk,
    // SQLite may roll back the others' writes too, and then they must not answer 201 either
    const count = () =>
      sql.get<{ r: number; a: number }>(`SELECT (SELECT count(*) FROM requests) AS r, (SELECT count(*) FROM audit WHERE action = 'request.created') AS a`);
    const at = (await count())!;
    const together = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        s.call(i % 2 ? 'alice' : 'dave', 'POST', '/v1/requests', {
          resourceId: 'prod-db',
          role: 'read',
          durationSeconds: 60,
          justification: `together ${i} ${'x'.repeat(1980)}`,
        }),
      ),
    );
    for (const r of together) assert.ok(r.status === 201 || (r.status === 503 && errorCode(r) === 'unavailable'), `${r.status} ${JSON.stringify(r.body)}`);
    const ok = together.filter((r) => r.status === 201).length;
    assert.deepEqual(await count(), { r: at.r + ok, a: at.a + ok }, 'the rows and audit events are exactly those of the 201s');
    for (const [user, path] of reads(f)) {
      const r = await s.call(user, 'GET', path);
      assert.equal(r.status, 200, `GET ${path} during the fault: ${JSON.stringify(r.body)}`);
    }
    s.sqlite.pragma('max_page_count = 1073741823');
    s.sqlite.exec('DROP TABLE ballast');
    const v = await writesWorkAgain(s);
    report('audit-failure', { backend: 'sqlite', fault: 'disk full (max_page_count)', refused, committedWhileFull: committed, chainAfter: v.count });
  },
);

// found by this suite (fixed in b51d78c): the once-a-minute last_used_at write made reads 503
test('auditWriteImpossible_readsByATokenDueForItsLastUsedTouch_keepWorking', async (t) => {
  const { s, sql } = await serverWithSql(t);
  const fault = readOnly(s, sql);
  await s.call('alice', 'GET', '/v1/me');
  await fault.apply();
  await s.advance(61_000);
  const r = await s.call('alice', 'GET', '/v1/me');
  await fault.lift();
  assert.equal(r.status, 200, JSON.stringify(r.body));
});

test('auditWriteImpossible_batchedAuthFailuresAndChecks_areWrittenOnceTheFaultIsGone', async (t) => {
  const { s, sql } = await serverWithSql(t);
  const fault = readOnly(s, sql);
  const count = async (action: string) => (await sql.get<{ n: number }>('SELECT count(*) AS n FROM audit WHERE action = ?', action))!.n;
  const before = { failed: await count('auth.failed'), checked: await count('access.checked') };
  await fault.apply();
  for (let i = 0; i < 3; i++) assert.equal((await s.call(null, 'GET', '/v1/me', undefined, { authorization: 'Bearer elv_guess' })).status, 401);
  for (let i = 0; i < 2; i++) assert.equal((await s.call('svc', 'GET', '/v1/check?userId=alice&resourceId=staging-db&role=read')).status, 200);
  await s.services.batcher.flush(); // fails: the database refuses writes
  assert.equal(await count('auth.failed'), before.failed, 'nothing was written during the fault');
  await fault.lift();
  await new Promise((r) => setTimeout(r, 200));
  await s.services.batcher.flush();
  assert.equal((await count('auth.failed')) - before.failed, 3, 'failed sign-ins during the outage');
  assert.equal((await count('access.checked')) - before.checked, 2, 'access checks during the outage');
  assert.equal((await s.store.read((tx) => tx.audit.verify())).ok, true);
});
