// Audit under failure: when the audit log cannot be written, the state change does not happen
// either (rule 3), the client gets 503 `unavailable` with the error shape, reads keep working,
// and once the fault is gone writes work again and the chain verifies.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Database } from 'better-sqlite3';
import { errorCode, makeServer, type TestServer } from '../helpers/server.js';
import { errorShapeProblem, report } from './lib.js';

/** Everything that a state change could touch, plus the audit head. */
function snapshot(db: Database) {
  const one = (sql: string) => db.prepare(sql).get();
  return JSON.stringify({
    requests: one(`SELECT count(*) n, group_concat(id || status, ',') s FROM requests`),
    grants: one(`SELECT count(*) n, group_concat(id || status || expires_at || extensions, ',') s FROM grants`),
    approvals: one('SELECT count(*) n FROM approvals'),
    outbox: one('SELECT count(*) n FROM outbox'),
    tokens: one('SELECT count(*) n, count(revoked_at) r FROM tokens'),
    head: one('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1'),
  });
}

type Fault = { name: string; apply(db: Database): void; lift(db: Database): void };

const faults: Fault[] = [
  {
    name: 'query_only',
    apply: (db) => db.pragma('query_only = ON'),
    lift: (db) => db.pragma('query_only = OFF'),
  },
];

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

for (const fault of faults) {
  test(`auditWriteImpossible_${fault.name}_stateChangesGet503AndChangeNothing_readsKeepWorking`, async (t) => {
    const s = await makeServer();
    t.after(() => s.close());
    const f = await fixtures(s);
    fault.apply(s.sqlite);
    const before = snapshot(s.sqlite);
    for (const [user, method, path, body] of writes(f)) {
      const r = await s.call(user, method, path, body);
      assert.equal(r.status, 503, `${method} ${path}: ${JSON.stringify(r.body)}`);
      assert.equal(errorShapeProblem(r.status, r.body), null);
      assert.equal(errorCode(r), 'unavailable');
      assert.equal(snapshot(s.sqlite), before, `${method} ${path} changed the database`);
    }
    for (const [user, path] of reads(f)) {
      const r = await s.call(user, 'GET', path);
      assert.equal(r.status, 200, `GET ${path} during the fault: ${JSON.stringify(r.body)}`);
    }
    // the sweep fails quietly and retries; it must not half-expire anything either
    await s.advance(3600_000);
    assert.equal(snapshot(s.sqlite), before, 'a failing sweep changed the database');
    fault.lift(s.sqlite);
    const after = await s.call('bob', 'POST', `/v1/requests/${f.requestId}/approve`, { comment: 'after the fault' });
    assert.equal(after.status, 409, 'the request lapsed while the server could not write; now it is expired');
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
    report('audit-failure', { fault: fault.name, writesRefused: writes(f).length, readsServed: reads(f).length, chainAfter: v.count });
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
test('auditWriteImpossible_diskFull_eachChangeCommitsWholeOrIs503AndChangesNothing_readsKeepWorking', async (t) => {
  const s = await makeServer();
  t.after(() => s.close());
  const f = await fixtures(s);
  fillDisk(s.sqlite);
  let refused = 0;
  let committed = 0;
  for (let i = 0; i < 100 && refused < 3; i++) {
    const before = snapshot(s.sqlite);
    const justification = `${i} ${'the disk is full '.repeat(200)}`.slice(0, 2000);
    const r = await s.call('alice', 'POST', '/v1/requests', { resourceId: 'prod-db', role: 'read', durationSeconds: 60, justification });
    if (r.status === 503) {
      refused++;
      assert.equal(errorShapeProblem(r.status, r.body), null);
      assert.equal(errorCode(r), 'unavailable');
      assert.equal(snapshot(s.sqlite), before, 'a refused change left something behind');
    } else {
      assert.equal(r.status, 201, JSON.stringify(r.body));
      committed++;
      const id = r.body.request.id as string;
      const events = s.sqlite.prepare(`SELECT count(*) AS n FROM audit WHERE request_id = ? AND action = 'request.created'`).get(id) as { n: number };
      assert.equal(events.n, 1, 'a committed request without its audit event');
    }
  }
  assert.ok(refused > 0, `the full disk never refused a change (${committed} committed)`);
  // several at once share one transaction (group commit): when one of them fills the disk,
  // SQLite may roll back the others' writes too, and then they must not answer 201 either
  const count = () =>
    s.sqlite.prepare(`SELECT (SELECT count(*) FROM requests) AS r, (SELECT count(*) FROM audit WHERE action = 'request.created') AS a`).get() as {
      r: number;
      a: number;
    };
  const at = count();
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
  assert.deepEqual(count(), { r: at.r + ok, a: at.a + ok }, 'the rows and audit events are exactly those of the 201s');
  for (const [user, path] of reads(f)) {
    const r = await s.call(user, 'GET', path);
    assert.equal(r.status, 200, `GET ${path} during the fault: ${JSON.stringify(r.body)}`);
  }
  s.sqlite.pragma('max_page_count = 1073741823');
  s.sqlite.exec('DROP TABLE ballast');
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
  report('audit-failure', { fault: 'disk full (max_page_count)', refused, committedWhileFull: committed, chainAfter: v.count });
});

// found by this suite (fixed in b51d78c): the once-a-minute last_used_at write made reads 503
test('auditWriteImpossible_readsByATokenDueForItsLastUsedTouch_keepWorking', async (t) => {
  const s = await makeServer();
  t.after(() => s.close());
  await s.call('alice', 'GET', '/v1/me');
  s.sqlite.pragma('query_only = ON');
  await s.advance(61_000);
  const r = await s.call('alice', 'GET', '/v1/me');
  s.sqlite.pragma('query_only = OFF');
  assert.equal(r.status, 200, JSON.stringify(r.body));
});

test('auditWriteImpossible_batchedAuthFailuresAndChecks_areWrittenOnceTheFaultIsGone', async (t) => {
  const s = await makeServer();
  t.after(() => s.close());
  const count = (action: string) => (s.sqlite.prepare('SELECT count(*) AS n FROM audit WHERE action = ?').get(action) as { n: number }).n;
  const before = { failed: count('auth.failed'), checked: count('access.checked') };
  s.sqlite.pragma('query_only = ON');
  for (let i = 0; i < 3; i++) assert.equal((await s.call(null, 'GET', '/v1/me', undefined, { authorization: 'Bearer elv_guess' })).status, 401);
  for (let i = 0; i < 2; i++) assert.equal((await s.call('svc', 'GET', '/v1/check?userId=alice&resourceId=staging-db&role=read')).status, 200);
  await s.services.batcher.flush(); // fails: the database is read-only
  s.sqlite.pragma('query_only = OFF');
  await new Promise((r) => setTimeout(r, 200));
  await s.services.batcher.flush();
  assert.equal(count('auth.failed') - before.failed, 3, 'failed sign-ins during the outage');
  assert.equal(count('access.checked') - before.checked, 2, 'access checks during the outage');
  assert.equal((await s.store.read((tx) => tx.audit.verify())).ok, true);
});
