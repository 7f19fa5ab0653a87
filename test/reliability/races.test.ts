// Races: many clients act on the same request or grant at the same moment over real HTTP.
// Exactly one outcome wins, every loser gets 409 (or the 403 the contract orders for a caller
// who may not act), and the audit log tells the same story as the responses.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { rmSync } from 'node:fs';
import { buildServer, type SpawnedServer } from '../helpers/server.js';
import { auditVerify, call, openSql, report, sleep, startServer, stateAuditProblems, withSql, workspace, type Res, type Sql, type Workspace } from './lib.js';

const ROUNDS = 10;
let ws: Workspace;
let server: SpawnedServer;
/** the suite's database, read while the server runs */
let db: Sql;
const tally: Record<string, Record<string, number>> = {};

before(async () => {
  buildServer();
  ws = await workspace('races');
  server = await startServer(ws);
  db = await openSql(ws.db, { readonly: true });
});

after(async () => {
  await server?.stop();
  await db.close();
  const problems = await withSql(ws.db, stateAuditProblems, { readonly: true });
  const v = auditVerify(ws.db);
  rmSync(ws.dir, { recursive: true, force: true });
  report('races', { rounds: ROUNDS, outcomes: tally, stateAuditProblems: problems.length, auditVerify: v.code });
  assert.deepEqual(problems, []);
  assert.equal(v.code, 0, v.out);
});

type Op = { who: string; label: string; method: string; path: string; body?: unknown };

/**
 * Fires every op within a few milliseconds (shuffled, jittered so that different ops win in
 * different rounds), each on its own connection; returns the responses.
 */
async function race(ops: Op[]): Promise<{ op: Op; r: Res }[]> {
  const shuffled = [...ops].sort(() => Math.random() - 0.5);
  const out = await Promise.all(
    shuffled.map(async (op) => {
      await sleep(Math.random() * 15);
      return { op, r: await call(server.url, ws.tokens[op.who], op.method, op.path, op.body) };
    }),
  );
  for (const { op, r } of out) assert.ok(r.status > 0 && r.status < 500, `${op.label}: ${r.status} ${r.text}`);
  return out;
}

function count(scenario: string, out: { op: Op; r: Res }[]) {
  const t = (tally[scenario] ??= {});
  for (const { op, r } of out) t[`${op.label} ${r.status}`] = (t[`${op.label} ${r.status}`] ?? 0) + 1;
}

async function events(filter: { requestId?: string; grantId?: string }) {
  return filter.requestId
    ? db.all<{ action: string; actor_id: string }>('SELECT action, actor_id FROM audit WHERE request_id = ? ORDER BY seq', filter.requestId)
    : db.all<{ action: string; actor_id: string }>('SELECT action, actor_id FROM audit WHERE grant_id = ? ORDER BY seq', filter.grantId);
}

const n = (xs: { action: string }[], ...actions: string[]) => xs.filter((e) => actions.includes(e.action)).length;
const times = (k: number, op: Op): Op[] => Array.from({ length: k }, () => op);

async function newRequest(resourceId: string, role: string, seconds = 600): Promise<string> {
  const r = await call(server.url, ws.tokens.alice, 'POST', '/v1/requests', { resourceId, role, durationSeconds: seconds, justification: 'race' });
  assert.equal(r.status, 201, r.text);
  return r.body.request.id;
}

test('race_approveDenyCancelOnOnePendingRequest_exactlyOneWins', async () => {
  for (let i = 0; i < ROUNDS; i++) {
    const id = await newRequest('prod-db', 'read');
    const out = await race([
      ...times(6, { who: 'bob', label: 'approve', method: 'POST', path: `/v1/requests/${id}/approve`, body: {} }),
      ...times(6, { who: 'bob', label: 'deny', method: 'POST', path: `/v1/requests/${id}/deny`, body: { reason: 'race' } }),
      ...times(6, { who: 'alice', label: 'cancel', method: 'POST', path: `/v1/requests/${id}/cancel` }),
      ...times(3, { who: 'carol', label: 'approve-not-approver', method: 'POST', path: `/v1/requests/${id}/approve`, body: {} }),
    ]);
    count('request', out);
    const wins = out.filter((o) => o.r.status === 200);
    assert.equal(wins.length, 1, `one winner, got ${wins.map((w) => w.op.label)}`);
    for (const o of out) if (o.r.status !== 200) assert.equal(o.r.status, o.op.label === 'approve-not-approver' ? 403 : 409, `${o.op.label}: ${o.r.text}`);
    const ev = await events({ requestId: id });
    assert.equal(n(ev, 'request.approved', 'request.denied', 'request.cancelled'), 1, JSON.stringify(ev));
    const expected = { approve: 'request.approved', deny: 'request.denied', cancel: 'request.cancelled' }[wins[0].op.label as 'approve'];
    assert.equal(n(ev, expected), 1, `the winner (${wins[0].op.label}) is the one audited`);
    assert.equal(n(ev, 'grant.activated'), wins[0].op.label === 'approve' ? 1 : 0);
  }
});

test('race_twoRequiredApprovers_eachCountsOnce_andOneDecisionIsRecorded', async () => {
  for (let i = 0; i < ROUNDS; i++) {
    const id = await newRequest('prod-k8s', 'view');
    const out = await race([
      ...times(5, { who: 'erin', label: 'erin-approve', method: 'POST', path: `/v1/requests/${id}/approve`, body: {} }),
      ...times(5, { who: 'frank', label: 'frank-approve', method: 'POST', path: `/v1/requests/${id}/approve`, body: {} }),
      ...times(2, { who: 'frank', label: 'frank-deny', method: 'POST', path: `/v1/requests/${id}/deny`, body: { reason: 'race' } }),
    ]);
    count('two-approvers', out);
    for (const o of out) assert.ok(o.r.status === 200 || o.r.status === 409, `${o.op.label}: ${o.r.status} ${o.r.text}`);
    const erin = out.filter((o) => o.op.who === 'erin' && o.r.status === 200).length;
    const frank = out.filter((o) => o.op.who === 'frank' && o.r.status === 200).length;
    assert.ok(erin <= 1 && frank <= 1, `each approver decides once (erin ${erin}, frank ${frank})`);
    const ev = await events({ requestId: id });
    assert.equal(n(ev, 'request.approved', 'request.denied', 'request.cancelled'), 1, `one decision: ${JSON.stringify(ev)}`);
    assert.equal(n(ev, 'request.approval_recorded', 'request.approved', 'request.denied'), erin + frank, 'one event per successful decision');
    if (n(ev, 'request.approved')) {
      assert.equal(erin + frank, 2);
      assert.equal(n(ev, 'grant.activated'), 1);
    }
  }
});

test('race_revokeRelinquishExtendOnOneGrant_exactlyOneEndWins_extensionsMatchTheLog', async () => {
  for (let i = 0; i < ROUNDS; i++) {
    const r = await call(server.url, ws.tokens.alice, 'POST', '/v1/requests', {
      resourceId: 'staging-db',
      role: 'read',
      durationSeconds: 600,
      justification: 'race',
    });
    assert.equal(r.status, 201);
    const g = r.body.grant.id as string;
    const out = await race([
      ...times(4, { who: 'bob', label: 'revoke', method: 'POST', path: `/v1/grants/${g}/revoke`, body: { reason: 'race' } }),
      ...times(4, { who: 'carol', label: 'revoke', method: 'POST', path: `/v1/grants/${g}/revoke`, body: { reason: 'race' } }),
      ...times(4, { who: 'alice', label: 'relinquish', method: 'POST', path: `/v1/grants/${g}/relinquish` }),
      ...times(6, { who: 'alice', label: 'extend', method: 'POST', path: `/v1/grants/${g}/extend`, body: { durationSeconds: 60 } }),
      ...times(2, { who: 'dave', label: 'revoke-stranger', method: 'POST', path: `/v1/grants/${g}/revoke`, body: { reason: 'race' } }),
    ]);
    count('grant', out);
    const ends = out.filter((o) => (o.op.label === 'revoke' || o.op.label === 'relinquish') && o.r.status === 200);
    assert.equal(ends.length, 1, `one end wins, got ${ends.length}`);
    for (const o of out) {
      if (o.op.label === 'revoke-stranger') assert.equal(o.r.status, 404, 'a stranger cannot see the grant');
      else assert.ok(o.r.status === 200 || o.r.status === 409, `${o.op.label}: ${o.r.status} ${o.r.text}`);
    }
    const extended = out.filter((o) => o.op.label === 'extend' && o.r.status === 200).length;
    const ev = await events({ grantId: g });
    assert.equal(n(ev, 'grant.revoked', 'grant.relinquished', 'grant.expired'), 1);
    assert.equal(n(ev, ends[0].op.label === 'revoke' ? 'grant.revoked' : 'grant.relinquished'), 1, 'the winner is the one audited');
    assert.equal(n(ev, 'grant.extended'), extended, 'every 200 extension is audited, and only those');
  }
});

test('race_extensionNeedingApproval_onePendingAtATime_thenOneDecision', async () => {
  for (let i = 0; i < ROUNDS; i++) {
    const req = await newRequest('prod-db', 'read', 1800);
    const a = await call(server.url, ws.tokens.bob, 'POST', `/v1/requests/${req}/approve`, {});
    assert.equal(a.status, 200);
    const g = a.body.grant.id as string;
    const asks = await race(
      times(8, { who: 'alice', label: 'extend', method: 'POST', path: `/v1/grants/${g}/extend`, body: { durationSeconds: 600, justification: 'race' } }),
    );
    count('extension-request', asks);
    const created = asks.filter((o) => o.r.status === 202);
    assert.equal(created.length, 1, 'exactly one pending extension request');
    for (const o of asks) if (o.r.status !== 202) assert.equal(o.r.status, 409, o.r.text);
    const ext = created[0].r.body.request.id as string;
    const out = await race([
      ...times(4, { who: 'bob', label: 'approve', method: 'POST', path: `/v1/requests/${ext}/approve`, body: {} }),
      ...times(4, { who: 'bob', label: 'deny', method: 'POST', path: `/v1/requests/${ext}/deny`, body: { reason: 'race' } }),
      ...times(4, { who: 'alice', label: 'cancel', method: 'POST', path: `/v1/requests/${ext}/cancel` }),
      ...times(3, { who: 'carol', label: 'revoke-grant', method: 'POST', path: `/v1/grants/${g}/revoke`, body: { reason: 'race' } }),
    ]);
    count('extension-decision', out);
    for (const o of out) assert.ok(o.r.status === 200 || o.r.status === 409, `${o.op.label}: ${o.r.status} ${o.r.text}`);
    const decided = out.filter((o) => o.op.label !== 'revoke-grant' && o.r.status === 200);
    const revoked = out.filter((o) => o.op.label === 'revoke-grant' && o.r.status === 200);
    assert.equal(revoked.length, 1, 'the grant is revoked exactly once');
    assert.ok(decided.length <= 1, `at most one decision on the extension, got ${decided.length}`);
    const ev = await events({ requestId: ext });
    // the revocation cancels a still-pending extension itself (actor system)
    assert.equal(n(ev, 'request.approved', 'request.denied', 'request.cancelled'), 1, JSON.stringify(ev));
    if (decided.length === 0) assert.equal(ev.find((e) => e.action === 'request.cancelled')?.actor_id, 'system');
    assert.equal(n(await events({ grantId: g }), 'grant.extended'), decided[0]?.op.label === 'approve' ? 1 : 0);
  }
});
