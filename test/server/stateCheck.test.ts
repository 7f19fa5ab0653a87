// State the log does not explain (issue 14.3). The audit chain only proves the log is intact;
// the state check re-derives requests, approvals, grants and tokens from it and reports every
// row it does not explain. A realistic lifecycle on a real database (a SQLite file, or a
// PostgreSQL database in server-pg) must check clean; then an attacker who owns the database (the
// append-only triggers do not even matter here: they only guard the audit table) inserts and
// edits rows with SQL (test/helpers/rows.ts speaks the backend's dialect), and
// `audit verify --state` (the bundled CLI) and `GET /v1/audit/verify?state=true` must report
// each, with its table, id and column.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { canonicalJson, hashEvent } from '../../server/store/auditChain.js';
import { hashToken } from '../../server/engine/tokens.js';
import { TEST_POLICY } from '../helpers/policy.js';
import {
  HOUR,
  MIN,
  type TestDatabase,
  type TestSql,
  access,
  buildServer,
  cli,
  loggedEvents,
  makeServer,
  policyOf,
  tempDir,
  openTestStore,
} from '../helpers/server.js';
import { api, signIn, startOidcWorld } from '../helpers/oidc.js';
import { disableUser } from '../../server/identity/service.js';
import { copyDatabase, dropAuditGuard, withSql } from '../helpers/rows.js';

let dir: string;
let pristine: TestDatabase;
let aliceGrant: string;
let approved: { requestId: string; approver: string };
let n = 0;

/** Every path that writes a request, approval, grant or token, once at least. */
before(async () => {
  buildServer();
  dir = tempDir('elevate-state-');
  const s = await makeServer({ dir });
  const ok = (r: { status: number; body: unknown }, status = 200) => {
    assert.equal(r.status, status, JSON.stringify(r.body));
    return r.body as any;
  };
  // auto-approval, then an extension applied at once
  const auto = ok(await s.call('alice', 'POST', '/v1/requests', access('staging-db', 'read', 1800)), 201);
  ok(await s.call('alice', 'POST', `/v1/grants/${auto.grant.id}/extend`, { durationSeconds: 600 }));
  // one approval; an extension that needs approval, approved
  const prod = ok(await s.call('alice', 'POST', '/v1/requests', access('prod-db', 'write', 600, { ticket: 'OPS-7' })), 201);
  const prodGrant = ok(await s.call('bob', 'POST', `/v1/requests/${prod.request.id}/approve`, { comment: 'go' })).grant;
  approved = { requestId: prod.request.id, approver: 'bob' };
  aliceGrant = prodGrant.id;
  const ext = ok(await s.call('alice', 'POST', `/v1/grants/${prodGrant.id}/extend`, { durationSeconds: 900, justification: 'more' }), 202);
  ok(await s.call('bob', 'POST', `/v1/requests/${ext.request.id}/approve`, {}));
  // two approvals (the first only recorded), then relinquished with a pending extension cancelled
  const k8s = ok(await s.call('dave', 'POST', '/v1/requests', access('prod-k8s', 'view', 600)), 201);
  ok(await s.call('erin', 'POST', `/v1/requests/${k8s.request.id}/approve`, { comment: 'one' }));
  const k8sGrant = ok(await s.call('frank', 'POST', `/v1/requests/${k8s.request.id}/approve`, {})).grant;
  ok(await s.call('dave', 'POST', `/v1/grants/${k8sGrant.id}/extend`, { durationSeconds: 600 }), 202);
  ok(await s.call('dave', 'POST', `/v1/grants/${k8sGrant.id}/relinquish`));
  // denied, cancelled, break-glass revoked by an approver
  const denied = ok(await s.call('alice', 'POST', '/v1/requests', access('prod-db', 'read', 600)), 201);
  ok(await s.call('bob', 'POST', `/v1/requests/${denied.request.id}/deny`, { reason: 'not today' }));
  const cancelled = ok(await s.call('alice', 'POST', '/v1/requests', access('payments', 'read', 600, { ticket: 'PAY-1' })), 201);
  ok(await s.call('alice', 'POST', `/v1/requests/${cancelled.request.id}/cancel`));
  const glass = ok(await s.call('dave', 'POST', '/v1/requests', access('incident', 'admin', 600, { breakGlass: true })), 201);
  ok(await s.call('erin', 'POST', `/v1/grants/${glass.grant.id}/revoke`, { reason: 'over' }));
  // left pending until it expires; a token issued and one revoked
  ok(await s.call('dave', 'POST', '/v1/requests', access('prod-db', 'read', 600)), 201);
  await s.services.tokens.issue('alice', { ttlSeconds: 3600, label: 'ci', actorId: 'carol' });
  await s.services.tokens.revoke([s.tokenIds.frank], 'carol', 'rotated');
  // provisioning fails (the outbox worker's calls into the engine): the grant fails, its pending
  // extension is cancelled; a revocation fails once, then succeeds
  const doomed = ok(await s.call('alice', 'POST', '/v1/requests', access('staging-db', 'read', 600)), 201);
  ok(await s.call('alice', 'POST', `/v1/grants/${doomed.grant.id}/extend`, { durationSeconds: 3600 }), 202);
  const provider = { type: 'command' as const };
  await s.services.engine.provisionFailed(0, doomed.grant.id, provider, 'target unavailable');
  await s.services.engine.revokeFailed(0, doomed.grant.id, provider, 'still unavailable', 0, s.clock.now() + MIN);
  await s.services.engine.deprovisioned(0, doomed.grant.id, provider, 1);
  // time passes: grants end on time, the pending request lapses
  await s.advance(2 * HOUR);
  await s.services.engine.sweep();
  // a new grant, then a policy reload removes its owner: grant revoked, pending request cancelled, tokens revoked
  const late = ok(await s.call('dave', 'POST', '/v1/requests', access('staging-db', 'read', 600)), 201);
  ok(await s.call('dave', 'POST', '/v1/requests', access('prod-db', 'write', 600)), 201);
  assert.equal(late.grant.status, 'active');
  const policy = policyOf(TEST_POLICY);
  await s.services.reload({ ...policy, users: new Map([...policy.users].filter(([id]) => id !== 'dave')) }, { usersRemoved: ['dave'] });
  await s.advance(10 * MIN);
  await s.services.engine.sweep();
  await s.close();
  pristine = s.db;
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A copy of the pristine database, changed by `attack` behind the server's back. */
async function tampered(attack: (db: TestSql) => Promise<unknown>): Promise<TestDatabase> {
  const copy = await copyDatabase(pristine, dir, `tampered-${++n}.db`);
  await withSql(copy, attack);
  return copy;
}

const verifyState = (db: TestDatabase, ...args: string[]) => cli(['audit', 'verify', '--state', ...db.args, ...args]);

function assertReported(file: TestDatabase, lines: RegExp[]) {
  const r = verifyState(file);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /^ok: \d+ events, head [0-9a-f]{64}\n/, 'the chain itself is intact');
  assert.match(r.stdout, /state FAILED: \d+ row\(s\) the log does not explain/);
  for (const l of lines) assert.match(r.stdout, l);
  return r.stdout;
}

describe('audit verify --state', () => {
  test('stateCheck_aRealisticLifecycle_isExplainedRowByRow', async () => {
    const store = await openTestStore(pristine, { role: 'cli', migrate: false });
    try {
      const r = await store.verifyAudit({ state: true });
      assert.equal(r.ok, true);
      assert.deepEqual(r.state?.problems, []);
      const counts = r.state!.rows;
      assert.ok(counts.requests === 13 && counts.approvals === 5 && counts.grants === 6 && counts.tokens === 9, JSON.stringify(counts));
    } finally {
      await store.close();
    }
    // every ending and decision is there to be explained
    await withSql(pristine, async (db) => {
      const statuses = async (t: string) => (await db.all<{ status: string }>(`SELECT DISTINCT status FROM ${t} ORDER BY status`)).map((x) => x.status);
      assert.deepEqual(await statuses('requests'), ['approved', 'cancelled', 'denied', 'expired']);
      assert.deepEqual(await statuses('grants'), ['expired', 'failed', 'relinquished', 'revoked']);
      assert.equal((await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM tokens WHERE revoked_at IS NOT NULL'))!.n >= 2, true);
    });
    const r = verifyState(pristine);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /^ok: \d+ events, head [0-9a-f]{64}\nstate ok: the log explains all \d+ requests, \d+ approvals, \d+ grants, \d+ tokens, 0 identity-provider users\n$/,
    );
  });

  test('stateCheck_aGrantRowInsertedBehindTheServersBack_isReported', async () => {
    assertReported(
      await tampered((d) =>
        d.run(
          `INSERT INTO grants (id, request_id, user_id, resource_id, role, starts_at, expires_at, max_expires_at, status) VALUES ('grt_forged', ?, 'alice', 'prod-db', 'write', 0, 9e12, 9e12, 'active')`,
          approved.requestId,
        ),
      ),
      [/^ {2}grants grt_forged: no audit event accounts for this row$/m],
    );
  });

  test('stateCheck_aTokenRowInsertedBehindTheServersBack_isReported', async () => {
    assertReported(
      await tampered((d) =>
        d.run(`INSERT INTO tokens (id, user_id, hash, created_at) VALUES ('tok_forged', 'carol', ?, 0)`, hashToken(`elv_${'A'.repeat(43)}`)),
      ),
      [/^ {2}tokens tok_forged: no audit event accounts for this row$/m],
    );
  });

  test('stateCheck_aTokensHashSwapped_isReported', async () => {
    assertReported(await tampered((d) => d.run(`UPDATE tokens SET hash = ? WHERE user_id = 'carol'`, hashToken(`elv_${'B'.repeat(43)}`))), [
      /^ {2}tokens tok_\S+: hash is "[0-9a-f]{64}", the log says "[0-9a-f]{64}"$/m,
    ]);
  });

  test('stateCheck_aGrantsOwnerChanged_isReportedWithTheColumn', async () => {
    assertReported(await tampered((d) => d.run(`UPDATE grants SET user_id = 'mallory' WHERE id = ?`, aliceGrant)), [
      new RegExp(`^ {2}grants ${aliceGrant}: user_id is "mallory", the log says "alice"$`, 'm'),
    ]);
  });

  test('stateCheck_aGrantsEndMoved_isReportedWithTheColumn', async () => {
    const out = assertReported(
      await tampered((d) =>
        d.run(
          `UPDATE grants SET max_expires_at = max_expires_at + 86400000, expires_at = expires_at + 86400000, status = 'active', ended_at = NULL WHERE id = ?`,
          aliceGrant,
        ),
      ),
      [
        new RegExp(
          `^ {2}grants ${aliceGrant}: expires_at is \\S+Z, the log says \\S+Z; status is "active", the log says "expired"; ended_at is null, the log says \\S+Z$`,
          'm',
        ),
      ],
    );
    assert.equal(out.split('\n').filter((l) => l.startsWith('  ')).length, 1, 'one line per row');
  });

  test('stateCheck_anApprovalsApproverChanged_isReportedAsTwoRows', async () => {
    assertReported(
      await tampered((d) => d.run(`UPDATE approvals SET approver_id = 'erin' WHERE request_id = ? AND approver_id = ?`, approved.requestId, approved.approver)),
      [
        new RegExp(`^ {2}approvals ${approved.requestId}/erin: no audit event accounts for this row$`, 'm'),
        new RegExp(`^ {2}approvals ${approved.requestId}/bob: the log says this row exists, but it does not$`, 'm'),
      ],
    );
  });

  test('stateCheck_everyTamperingAtOnce_isListedInJson', async () => {
    const file = await tampered(async (d) => {
      await d.run(`INSERT INTO tokens (id, user_id, hash, created_at) VALUES ('tok_forged', 'carol', ?, 0)`, hashToken(`elv_${'C'.repeat(43)}`));
      await d.run(`UPDATE grants SET user_id = 'mallory' WHERE id = ?`, aliceGrant);
      await d.run(`DELETE FROM requests WHERE id = ?`, approved.requestId);
    });
    const r = verifyState(file, '--format', 'json');
    assert.equal(r.code, 1, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.ok, false);
    assert.equal(out.state.ok, false);
    assert.deepEqual(out.state.problems.map((p: any) => `${p.table} ${p.id} ${p.kind}${p.columns ? ` ${p.columns.map((c: any) => c.column)}` : ''}`).sort(), [
      `grants ${aliceGrant} differs user_id`,
      `requests ${approved.requestId} missing`,
      'tokens tok_forged unexplained',
    ]);
  });

  test('stateCheck_overHttp_reportsTheRows_andAPlainVerifyAnswersAsBefore', async () => {
    const file = await tampered((d) => d.run(`UPDATE grants SET user_id = 'mallory' WHERE id = ?`, aliceGrant));
    const sub = tempDir('elevate-state-api-');
    const s = await makeServer({ dir: sub, dbSpec: await copyDatabase(file, sub, 'elevate.db') });
    try {
      const plain = await s.call('audrey', 'GET', '/v1/audit/verify');
      assert.equal(plain.status, 200);
      assert.deepEqual(Object.keys(plain.body).sort(), ['count', 'headHash', 'ok']);
      assert.equal(plain.body.ok, true, 'the chain alone is intact');
      const r = await s.call('audrey', 'GET', '/v1/audit/verify?state=true');
      assert.equal(r.status, 200);
      assert.equal(r.body.ok, false);
      assert.equal(r.body.state.ok, false);
      assert.equal(r.body.state.problemCount, 1);
      assert.deepEqual(r.body.state.problems, [
        { table: 'grants', id: aliceGrant, kind: 'differs', columns: [{ column: 'user_id', expected: 'alice', actual: 'mallory' }] },
      ]);
      assert.equal((await s.call('alice', 'GET', '/v1/audit/verify?state=true')).status, 403);
      assert.equal((await s.call('audrey', 'GET', '/v1/audit/verify?state=yes')).status, 400);
    } finally {
      await s.close();
      rmSync(sub, { recursive: true, force: true });
    }
  });

  test('stateCheck_overHttp_onAnUntouchedDatabase_isOk', async () => {
    const sub = tempDir('elevate-state-api-');
    const s = await makeServer({ dir: sub, dbSpec: await copyDatabase(pristine, sub, 'elevate.db') });
    try {
      const r = await s.call('carol', 'GET', '/v1/audit/verify?state=true');
      assert.equal(r.status, 200);
      assert.equal(r.body.ok, true, JSON.stringify(r.body.state?.problems));
      assert.deepEqual(r.body.state.problems, []);
    } finally {
      await s.close();
      rmSync(sub, { recursive: true, force: true });
    }
  });
});

/**
 * The pristine database as a server from before format 2 would have written it: every event in
 * hash format 1, without the details added for the state check.
 */
async function asOlderServerWroteIt(d: TestSql): Promise<void> {
  await dropAuditGuard(d);
  const added: Record<string, string[]> = {
    'request.created': ['required', 'autoApproved', 'autoApproveRule', 'pendingUntil'],
    'token.issued': ['fingerprint'],
    'grant.expired': ['endReason'],
    'grant.revoked': ['endReason'],
    'grant.relinquished': ['endReason'],
    'grant.failed': ['endReason'],
  };
  let prev = '0'.repeat(64);
  for (const r of await d.all<any>('SELECT * FROM audit ORDER BY seq')) {
    const details = JSON.parse(r.details);
    for (const k of added[r.action] ?? []) delete details[k];
    const text = canonicalJson(details);
    const h = hashEvent(
      prev,
      {
        seq: r.seq,
        at: new Date(r.at).toISOString(),
        actorId: r.actor_id,
        action: r.action,
        resourceId: r.resource_id,
        requestId: r.request_id,
        grantId: r.grant_id,
      },
      text,
    );
    await d.run('UPDATE audit SET v = 1, details = ?, prev_hash = ?, hash = ? WHERE seq = ?', text, prev, h, r.seq);
    prev = h;
  }
}

describe('audit verify --state on a log written before hash format 2', () => {
  test('stateCheck_anOlderLog_verifiesAndIsExplained_andNewEventsFollowInFormat2', async () => {
    const file = await tampered(asOlderServerWroteIt);
    const r = verifyState(file);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /state ok/);
    // a server started on it goes on in format 2; the mixed chain verifies and is explained
    const sub = tempDir('elevate-state-old-');
    const s = await makeServer({ dir: sub, dbSpec: await copyDatabase(file, sub, 'elevate.db') });
    try {
      const created = await s.call('alice', 'POST', '/v1/requests', access('staging-db', 'read', 600));
      assert.equal(created.status, 201);
      const v = await s.call('audrey', 'GET', '/v1/audit/verify?state=true');
      assert.equal(v.body.ok, true, JSON.stringify(v.body.state?.problems));
      const formats = new Set((await loggedEvents(s)).map((e) => e.v ?? 1));
      assert.deepEqual([...formats], [1, 2]);
    } finally {
      await s.close();
      rmSync(sub, { recursive: true, force: true });
    }
  });

  test('stateCheck_anOlderEventsSubjectChanged_passesTheChain_butIsReported', async () => {
    // format 1 leaves subject_id (who may read the event) outside the hash: the state check
    // compares it with whom the log says the event is about
    const subjectChanged = async (d: TestSql) => {
      await asOlderServerWroteIt(d);
      await d.run(`UPDATE audit SET subject_id = 'erin' WHERE seq = (SELECT MIN(seq) FROM audit WHERE action = 'grant.activated')`);
    };
    const file = await tampered(subjectChanged);
    assert.equal(cli(['audit', 'verify', ...file.args]).code, 0, 'the format-1 chain does not cover it');
    assertReported(file, [/^ {2}audit \d+: subject_id is "erin", the log says "alice"$/m]);
  });
});

describe('audit verify --state with sign-in sessions', () => {
  test('stateCheck_sessionsSignedInOutAndEndedByDisablingTheUser_areExplained_aSessionGivenToAnotherUserIsNot', async () => {
    const w = await startOidcWorld({ sessionTtl: '15m' });
    try {
      const alice = await signIn(w, 'alice');
      await signIn(w, 'carol');
      await signIn(w, 'dave');
      assert.equal((await api(w, alice, 'POST', '/v1/auth/logout')).status, 200);
      await disableUser(w.s.store, w.clock.now(), 'dave', 'cli', 'left the company');
      const clean = await w.s.store.verifyAudit({ state: true });
      assert.deepEqual(clean.state?.problems, []);
      const tokens = await w.s.store.read((r) => r.tokens.list());
      assert.equal(tokens.filter((t) => t.label === 'sso' && t.revokedAt !== null).length, 2);
      assert.equal(clean.state?.rows.idpUsers, 3);
      // behind the server's back: carol's session handed to erin, alice made admin, dave enabled again
      await w.s.sql.run(`UPDATE tokens SET user_id = 'erin' WHERE label = 'sso' AND user_id = 'carol'`);
      await w.s.sql.run(`UPDATE idp_users SET roles = '["admin"]' WHERE id = 'alice'`);
      await w.s.sql.run(`UPDATE idp_users SET disabled_at = NULL WHERE id = 'dave'`);
      const tampered = await w.s.store.verifyAudit({ state: true });
      assert.deepEqual(
        tampered.state?.problems.map(
          (p) => `${p.table} ${p.id.startsWith('tok_') ? 'tok' : p.id} ${p.kind} ${p.columns?.map((c) => `${c.column}:${c.expected}->${c.actual}`).join()}`,
        ),
        ['tokens tok differs user_id:carol->erin', 'idp_users alice differs roles:[]->["admin"]', `idp_users dave differs disabled_at:${w.clock.now()}->null`],
      );
    } finally {
      await w.close();
    }
  });
});
