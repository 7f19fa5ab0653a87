// Crash loop: mixed load against the real server, SIGKILL at a random moment, restart on the same
// database, 20 times. Whatever a client saw committed must be in the database with its audit
// event; no grant outlives its end; state and audit agree row by row; the chain (and, on SQLite,
// the file) is intact after every crash. Runs on SQLite and (reliability-pg) on PostgreSQL.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rmSync } from 'node:fs';
import { onPostgres } from '../helpers/backend.js';
import { buildServer, type SpawnedServer } from '../helpers/server.js';
import {
  auditVerify,
  call,
  integrityCheck,
  overdueActiveGrants,
  pick,
  report,
  rnd,
  sleep,
  startServer,
  stateAuditProblems,
  withSql,
  workspace,
} from './lib.js';

const ROUNDS = Number(process.env.ELEVATE_CRASH_ROUNDS ?? 20);
const WORKERS = 6;

/** What a 2xx response promised: this audit action about this id (and, for extensions, this end). */
interface Promise_ {
  op: string;
  action: string;
  requestId?: string;
  grantId?: string;
  expiresAt?: string;
}

test('crashLoop_sigkillUnderMixedLoad_losesNothingThatWasCommitted', async (t) => {
  buildServer();
  const ws = await workspace('crash');
  t.after(() => rmSync(ws.dir, { recursive: true, force: true }));
  const tok = ws.tokens;

  const ledger: Promise_[] = [];
  const pending: { id: string; requester: string; kind: 'access' | 'extension' }[] = [];
  const active: { id: string; owner: string; resource: string }[] = [];
  let ops = 0;
  let unanswered = 0;
  let checksAnswered = 0;
  const statuses = new Map<number, number>();
  let lost = 0;
  const started = Date.now();

  const take = <T>(xs: T[]): T | undefined => (xs.length ? xs.splice(Math.floor(Math.random() * xs.length), 1)[0] : undefined);

  async function step(url: string): Promise<void> {
    const requester = pick(['alice', 'dave']);
    const roll = Math.random();
    let r;
    if (roll < 0.2) {
      // auto-approved at once; short, so grants also end by expiry across rounds and restarts
      r = await call(url, tok[requester], 'POST', '/v1/requests', {
        resourceId: 'staging-db',
        role: 'read',
        durationSeconds: rnd(1, 8),
        justification: 'crash loop',
      });
      if (r.status === 201) {
        ledger.push({ op: 'create', action: 'request.created', requestId: r.body.request.id });
        ledger.push({ op: 'create', action: 'grant.activated', grantId: r.body.grant.id, requestId: r.body.request.id });
        active.push({ id: r.body.grant.id, owner: requester, resource: 'staging-db' });
      }
    } else if (roll < 0.38) {
      r = await call(url, tok[requester], 'POST', '/v1/requests', {
        resourceId: 'prod-db',
        role: pick(['read', 'write']),
        durationSeconds: rnd(2, 30),
        justification: 'crash loop',
      });
      if (r.status === 201) {
        ledger.push({ op: 'create', action: 'request.created', requestId: r.body.request.id });
        pending.push({ id: r.body.request.id, requester, kind: 'access' });
      }
    } else if (roll < 0.53) {
      const p = take(pending);
      if (!p) return;
      r = await call(url, tok.bob, 'POST', `/v1/requests/${p.id}/approve`, { comment: 'ok' });
      if (r.status === 200) {
        ledger.push({ op: 'approve', action: 'request.approved', requestId: p.id });
        if (p.kind === 'access') {
          ledger.push({ op: 'approve', action: 'grant.activated', grantId: r.body.grant.id });
          active.push({ id: r.body.grant.id, owner: p.requester, resource: 'prod-db' });
        } else ledger.push({ op: 'approve-extension', action: 'grant.extended', grantId: r.body.grant.id, expiresAt: r.body.grant.expiresAt });
      }
    } else if (roll < 0.58) {
      const p = take(pending);
      if (!p) return;
      r = await call(url, tok.bob, 'POST', `/v1/requests/${p.id}/deny`, { reason: 'no' });
      if (r.status === 200) ledger.push({ op: 'deny', action: 'request.denied', requestId: p.id });
    } else if (roll < 0.63) {
      const p = take(pending);
      if (!p) return;
      r = await call(url, tok[p.requester], 'POST', `/v1/requests/${p.id}/cancel`);
      if (r.status === 200) ledger.push({ op: 'cancel', action: 'request.cancelled', requestId: p.id });
    } else if (roll < 0.73) {
      const g = active.length ? pick(active) : undefined;
      if (!g) return;
      r = await call(url, tok[g.owner], 'POST', `/v1/grants/${g.id}/extend`, { durationSeconds: rnd(1, 5), justification: 'more' });
      if (r.status === 200) ledger.push({ op: 'extend', action: 'grant.extended', grantId: g.id, expiresAt: r.body.grant.expiresAt });
      if (r.status === 202) {
        ledger.push({ op: 'extend', action: 'request.created', requestId: r.body.request.id, grantId: g.id });
        pending.push({ id: r.body.request.id, requester: g.owner, kind: 'extension' });
      }
    } else if (roll < 0.8) {
      const g = take(active);
      if (!g) return;
      r = await call(url, pick([tok.bob, tok.carol]), 'POST', `/v1/grants/${g.id}/revoke`, { reason: 'crash loop' });
      if (r.status === 200) ledger.push({ op: 'revoke', action: 'grant.revoked', grantId: g.id });
    } else if (roll < 0.86) {
      const g = take(active);
      if (!g) return;
      r = await call(url, tok[g.owner], 'POST', `/v1/grants/${g.id}/relinquish`);
      if (r.status === 200) ledger.push({ op: 'relinquish', action: 'grant.relinquished', grantId: g.id });
    } else {
      const sent = Date.now();
      r = await call(url, tok.svc, 'GET', `/v1/check?userId=${requester}&resourceId=${pick(['staging-db', 'prod-db'])}&role=read`);
      if (r.status === 200) {
        checksAnswered++;
        // rule 1 as the target system sees it: decided after `sent`, so the grant ends after it
        if (r.body.allowed) assert.ok(Date.parse(r.body.expiresAt) > sent, `check allowed a grant that ended at ${r.body.expiresAt}`);
      }
    }
    ops++;
    statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    if (r.status === 0) unanswered++;
    // a 5xx is never an acceptable answer; 409/422 are legitimate (lost races, lapsed requests)
    assert.ok(r.status === 0 || r.status < 500, `${r.status} ${r.text.slice(0, 300)}`);
  }

  async function checkDatabase(round: number, afterRestart: boolean) {
    await withSql(ws.db, async (db) => {
      const seen = await db.all('SELECT action, request_id AS "requestId", grant_id AS "grantId", details FROM audit');
      const key = (a: string, id: string | undefined) => `${a}|${id}`;
      const have = new Set<string>();
      const extendedEnds = new Set<string>();
      for (const e of seen) {
        have.add(key(e.action, e.requestId ?? undefined));
        have.add(key(e.action, e.grantId ?? undefined));
        if (e.action === 'grant.extended') extendedEnds.add(`${e.grantId}|${JSON.parse(e.details).expiresAt}`);
      }
      const missing = ledger.filter((p) =>
        p.action === 'grant.extended'
          ? !extendedEnds.has(`${p.grantId}|${p.expiresAt}`)
          : !have.has(key(p.action, p.action.startsWith('grant.') ? p.grantId : p.requestId)),
      );
      lost = missing.length;
      assert.deepEqual(missing, [], `round ${round}: committed operations missing after SIGKILL`);
      const requests = (await db.get<{ n: number }>('SELECT count(*) AS n FROM requests'))!.n;
      assert.ok(requests >= new Set(ledger.filter((p) => p.action === 'request.created').map((p) => p.requestId)).size);
      assert.deepEqual(await stateAuditProblems(db), [], `round ${round}: state and audit disagree`);
      if (afterRestart) {
        // start() catches up before it listens (rule 6); the sweep then keeps up within a second (rule 1)
        assert.deepEqual(await overdueActiveGrants(db, Date.now(), 1500), [], `round ${round}: grants still active after their end`);
      }
    });
    // PostgreSQL recovers its own files after a crash of its client; the file is ours on SQLite
    if (!onPostgres) assert.equal(integrityCheck(ws.db.spec), 'ok', `round ${round}: integrity_check`);
    const v = auditVerify(ws.db);
    assert.equal(v.code, 0, `round ${round}: audit verify: ${v.out}`);
  }

  let server: SpawnedServer = await startServer(ws, { t });
  let recovered = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    const url = server.url;
    let stop = false;
    const workers = Array.from({ length: WORKERS }, async () => {
      while (!stop) await step(url);
    });
    await sleep(rnd(1000, 5000));
    await server.kill('SIGKILL');
    stop = true;
    await Promise.all(workers);
    await checkDatabase(round, false);
    server = await startServer(ws, { t });
    recovered += (server.output().match(/caught up after downtime/g) ?? []).length;
    await checkDatabase(round, true);
  }

  // after the last restart: a moment of quiet, then every grant that ended is marked so (rule 1)
  await sleep(3000);
  const { overdue, counts } = await withSql(ws.db, async (db) => ({
    overdue: await overdueActiveGrants(db, Date.now(), 1000),
    counts: (await db.get<Record<string, number>>(
      'SELECT (SELECT count(*) FROM requests) AS requests, (SELECT count(*) FROM grants) AS grants, (SELECT count(*) FROM audit) AS events, (SELECT count(*) FROM audit WHERE action = ?) AS checks',
      'access.checked',
    ))!,
  }));
  await server.stop();
  await checkDatabase(ROUNDS + 1, false);
  assert.deepEqual(overdue, [], 'grants active past their end after the sweep had time');

  const figures = {
    rounds: ROUNDS,
    operations: ops,
    committedPromises: ledger.length,
    lost,
    unansweredAtKill: unanswered,
    statuses: Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])),
    checksAnswered,
    checksAudited: counts.checks,
    rows: { requests: counts.requests, grants: counts.grants, auditEvents: counts.events },
    restartsThatCaughtUp: recovered,
    seconds: Math.round((Date.now() - started) / 1000),
  };
  report('crash-loop', { backend: onPostgres ? 'postgres' : 'sqlite', ...figures });
  assert.equal(lost, 0);
});

test('crash_grantEndsWhileTheServerIsDown_restartExpiresItAtOnce_auditedAsRecovered', async (t) => {
  buildServer();
  const ws = await workspace('crash-down', undefined, ['alice', 'svc']);
  t.after(() => rmSync(ws.dir, { recursive: true, force: true }));
  let server = await startServer(ws, { t });
  const r = await call(server.url, ws.tokens.alice, 'POST', '/v1/requests', {
    resourceId: 'staging-db',
    role: 'read',
    durationSeconds: 2,
    justification: 'down',
  });
  assert.equal(r.status, 201);
  const grantId = r.body.grant.id as string;
  await server.kill('SIGKILL');
  await sleep(7500); // the grant ends 2 s in; the server stays down more than 5 s past that
  const t0 = Date.now();
  server = await startServer(ws, { t });
  const restartToHealthyMs = Date.now() - t0;
  const check = await call(server.url, ws.tokens.svc, 'GET', '/v1/check?userId=alice&resourceId=staging-db&role=read');
  assert.equal(check.body.allowed, false);
  const { row, ev } = await withSql(ws.db, async (db) => ({
    row: (await db.get<{ status: string }>('SELECT status FROM grants WHERE id = ?', grantId))!,
    ev: await db.get<{ details: string }>(`SELECT details FROM audit WHERE grant_id = ? AND action = 'grant.expired'`, grantId),
  }));
  await server.stop();
  assert.equal(row.status, 'expired', 'expired by the catch-up before the port opened');
  assert.ok(ev, 'grant.expired audited');
  const d = JSON.parse(ev.details) as { recovered?: boolean; lateMs?: number };
  assert.equal(d.recovered, true);
  assert.ok((d.lateMs ?? 0) >= 5000, `lateMs ${d.lateMs}`);
  assert.match(server.output(), /caught up after downtime/);
  report('crash-loop', { backend: onPostgres ? 'postgres' : 'sqlite', downtimeRecovery: { lateMs: d.lateMs, restartToHealthyMs } });
});
