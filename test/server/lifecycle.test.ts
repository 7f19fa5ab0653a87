// The access lifecycle as a specification: requests, decisions, grants, extensions, endings,
// expiry, reload and audit, each through the HTTP API of an in-process server on a real SQLite
// file (or PostgreSQL database). Time is a FakeClock: tests move it, and the scheduler fires through its timers.
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../server/domain/clock.js';
import { access, errorCode, HOUR, loggedEvents, makeServer, MIN, policyOf, type TestServer } from '../helpers/server.js';
import { TEST_POLICY } from '../helpers/policy.js';
import { parsePolicy } from '../../server/domain/policy.js';
import type { StoredAuditEvent } from '../../server/store/types.js';

const open: TestServer[] = [];
async function server(o: Parameters<typeof makeServer>[0] = {}): Promise<TestServer> {
  const s = await makeServer(o);
  open.push(s);
  return s;
}
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

/** A logged event as the store reads it (the same on both backends), `at` in epoch ms, `d` its details. */
type Logged = Omit<StoredAuditEvent, 'at'> & { at: number; d: any };
/** The log, oldest first, from the store (batched events flushed first). */
async function audit(s: TestServer, where: Parameters<typeof loggedEvents>[1] = {}): Promise<Logged[]> {
  return (await loggedEvents(s, where)).map((e) => ({ ...e, at: Date.parse(e.at), d: e.details }));
}

async function request(s: TestServer, user: string, body: Record<string, unknown>) {
  const r = await s.call(user, 'POST', '/v1/requests', body);
  assert.equal(r.status, 201, `${user} request: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as { request: any; grant?: any };
}
async function ok(s: TestServer, user: string, method: string, path: string, body?: unknown, status = 200) {
  const r = await s.call(user, method, path, body);
  assert.equal(r.status, status, `${user} ${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}
async function fails(s: TestServer, user: string, method: string, path: string, body: unknown, status: number, code: string) {
  const r = await s.call(user, method, path, body);
  assert.deepEqual([r.status, r.status >= 400 ? errorCode(r) : r.body], [status, code], `${user} ${method} ${path}: ${JSON.stringify(r.body)}`);
  return r.body;
}
async function check(s: TestServer, userId: string, resourceId: string, role: string) {
  return ok(s, 'svc', 'GET', `/v1/check?userId=${userId}&resourceId=${resourceId}&role=${role}`);
}
/** An approved prod-db grant for alice (bob approves). */
async function prodGrant(s: TestServer, seconds = 3600) {
  const { request: req } = await request(s, 'alice', access('prod-db', 'read', seconds));
  const r = await ok(s, 'bob', 'POST', `/v1/requests/${req.id}/approve`, { comment: 'go' });
  return r.grant;
}

describe('requests', () => {
  test('request_whenAutoApproveRuleMatches_isApprovedAtOnceWithAnActiveGrant', async () => {
    const s = await server();
    const t0 = s.clock.now();
    const r = await request(s, 'alice', access('staging-db', 'read', 1800));
    assert.equal(r.request.status, 'approved');
    assert.equal(r.request.autoApproved, true);
    assert.equal(r.request.evaluation.autoApproveRule, 0);
    assert.equal(r.grant.status, 'active');
    assert.equal(Date.parse(r.grant.startsAt), t0);
    assert.equal(Date.parse(r.grant.expiresAt), t0 + 1800_000);
    assert.equal(r.request.grantId, r.grant.id);
    assert.deepEqual(
      (await audit(s, { requestId: r.request.id })).map((e) => e.action),
      ['request.created', 'request.approved', 'grant.activated'],
    );
    const approved = (await audit(s, { action: 'request.approved', requestId: r.request.id }))[0];
    assert.equal(approved.actorId, 'system');
    assert.equal(approved.d.how, 'auto');
    assert.equal(approved.d.autoApproveRule, 0);
    assert.deepEqual(await check(s, 'alice', 'staging-db', 'read'), { allowed: true, grantId: r.grant.id, expiresAt: r.grant.expiresAt });
  });

  test('request_whenLongerThanTheRuleAllows_waitsForAnApprover', async () => {
    const s = await server();
    const r = await request(s, 'alice', access('staging-db', 'read', 2 * 3600));
    assert.equal(r.request.status, 'pending');
    assert.equal(r.grant, undefined);
    assert.ok(
      r.request.evaluation.reasons.some((x: string) => /is longer than/.test(x)),
      r.request.evaluation.reasons.join('; '),
    );
    assert.deepEqual(await check(s, 'alice', 'staging-db', 'read'), { allowed: false });
  });

  test('request_whenRequesterIsNotInTheRuleGroups_waitsForAnApprover', async () => {
    const s = await server();
    const r = await request(s, 'audrey', access('staging-db', 'read', 600));
    assert.equal(r.request.status, 'pending');
  });

  test('request_whenWindowRuleIsOpen_isAutoApproved_andWhenClosed_waits', async () => {
    const monday = await server({ clock: new FakeClock(Date.UTC(2026, 0, 5, 9, 0)) });
    assert.equal((await request(monday, 'alice', access('reports', 'read', 600))).request.status, 'approved');
    const saturday = await server({ clock: new FakeClock(Date.UTC(2026, 0, 10, 9, 0)) });
    assert.equal((await request(saturday, 'alice', access('reports', 'read', 600))).request.status, 'pending');
    const evening = await server({ clock: new FakeClock(Date.UTC(2026, 0, 5, 18, 30)) });
    const r = await request(evening, 'alice', access('reports', 'read', 600));
    assert.equal(r.request.status, 'pending');
    assert.ok(r.request.evaluation.reasons.some((x: string) => /it is outside .* now/.test(x)));
  });

  test('request_overMaxDuration_orWithoutRequiredTicket_orWrongRole_isRefusedWith422AndCreatesNothing', async () => {
    const s = await server();
    const before = await s.sql.count('requests');
    const over = await fails(s, 'alice', 'POST', '/v1/requests', access('prod-db', 'read', 4 * 3600 + 1), 422, 'policy_violation');
    assert.match(over.error.message, /maxDuration/);
    const noTicket = await fails(s, 'alice', 'POST', '/v1/requests', access('payments', 'read', 600), 422, 'policy_violation');
    assert.match(noTicket.error.message, /ticket/);
    await fails(s, 'alice', 'POST', '/v1/requests', access('payments', 'read', 600, { ticket: '   ' }), 422, 'policy_violation');
    await fails(s, 'alice', 'POST', '/v1/requests', access('prod-db', 'superuser', 600), 422, 'policy_violation');
    await fails(s, 'alice', 'POST', '/v1/requests', access('prod-db', 'read', 600, { breakGlass: true }), 422, 'policy_violation');
    assert.equal(await s.sql.count('requests'), before);
    const withTicket = await request(s, 'alice', access('payments', 'read', 600, { ticket: 'OPS-1' }));
    assert.equal(withTicket.request.ticket, 'OPS-1');
    assert.equal((await audit(s, { action: 'request.created', requestId: withTicket.request.id }))[0].d.ticket, 'OPS-1');
  });

  test('request_thatCouldNeverGatherRequiredApprovals_isRefusedWith422', async () => {
    const s = await server();
    // prod-k8s needs 2 sre approvals; erin is one of the two sre, and never counts for herself
    const r = await fails(s, 'erin', 'POST', '/v1/requests', access('prod-k8s', 'view', 600), 422, 'policy_violation');
    assert.match(r.error.message, /approv/);
    // bob is the only dba
    await fails(s, 'bob', 'POST', '/v1/requests', access('prod-db', 'read', 600), 422, 'policy_violation');
    // the dry run says the same, with 200
    const dry = await ok(s, 'erin', 'POST', '/v1/requests?dryRun=true', access('prod-k8s', 'view', 600));
    assert.equal(dry.evaluation.allowed, false);
  });

  test('request_onBreakGlassResourceWithNoOtherApprover_isStillPossibleAsBreakGlass', async () => {
    const s = await server({
      policy: `
users: [{id: erin, groups: [sre]}, {id: svc, roles: [service]}]
resources:
  - {id: solo, roles: [admin], maxDuration: 1h, breakGlass: true, approval: {approvers: ["user:erin"]}}
`,
    });
    await fails(s, 'erin', 'POST', '/v1/requests', access('solo', 'admin', 600), 422, 'policy_violation');
    const r = await request(s, 'erin', access('solo', 'admin', 600, { breakGlass: true }));
    assert.equal(r.grant.status, 'active');
  });

  test('answers_ofRequestsAndApprovals_areTheRecordsAsReadBackAfterwards', async () => {
    // a new request and grant are answered from the rows as written, not read back: the answer
    // must be exactly what a read of the committed rows gives
    const s = await server();
    const readBack = async (user: string, answer: { request: any; grant?: any }) => {
      assert.deepEqual((await ok(s, user, 'GET', `/v1/requests/${answer.request.id}`)).request, answer.request);
      if (answer.grant) assert.deepEqual((await ok(s, user, 'GET', `/v1/grants/${answer.grant.id}`)).grant, answer.grant);
    };
    const auto = await request(s, 'alice', { ...access('staging-db', 'read', 1800), ticket: 'OPS-1' });
    assert.equal(auto.grant.status, 'active');
    await readBack('alice', auto);
    const pending = await request(s, 'alice', access('prod-db', 'read', 600));
    assert.equal(pending.request.status, 'pending');
    await readBack('alice', pending);
    await readBack('alice', await ok(s, 'bob', 'POST', `/v1/requests/${pending.request.id}/approve`, { comment: 'go' }));
    // two approvals at one instant (the clock stands still): listed as a read orders them
    const two = await request(s, 'alice', access('prod-k8s', 'view', 600));
    await readBack('alice', await ok(s, 'frank', 'POST', `/v1/requests/${two.request.id}/approve`, {}));
    const done = await ok(s, 'erin', 'POST', `/v1/requests/${two.request.id}/approve`, { comment: 'second' });
    assert.deepEqual(
      done.request.approvals.map((a: { approverId: string }) => a.approverId),
      ['erin', 'frank'],
    );
    await readBack('alice', done);
    const glass = await request(s, 'dave', access('incident', 'admin', 120, { breakGlass: true }));
    assert.equal(glass.request.breakGlass, true);
    await readBack('dave', glass);
  });

  test('dryRun_createsNothing_andAnswers200AlsoWhenRefused', async () => {
    const s = await server();
    const count = async () => (await s.sql.count('requests')) + (await s.sql.count('grants')) + (await s.sql.count('audit'));
    await s.services.batcher.flush();
    const before = await count();
    const auto = await ok(s, 'alice', 'POST', '/v1/requests?dryRun=true', access('staging-db', 'read', 600));
    assert.deepEqual({ ...auto.evaluation, reasons: undefined }, { allowed: true, autoApproved: true, autoApproveRule: 0, reasons: undefined });
    const pending = await ok(s, 'alice', 'POST', '/v1/requests?dryRun=true', access('prod-db', 'read', 600));
    assert.equal(pending.evaluation.allowed, true);
    assert.equal(pending.evaluation.autoApproved, false);
    assert.ok(pending.evaluation.reasons.length > 0);
    const refused = await ok(s, 'alice', 'POST', '/v1/requests?dryRun=true', access('prod-db', 'read', 99 * 3600));
    assert.equal(refused.evaluation.allowed, false);
    assert.ok(refused.evaluation.reasons.some((x: string) => /maxDuration/.test(x)));
    // every refusal reason once (issue 14, item 12): a wrong role, a missing ticket and a long duration
    const many = await ok(s, 'alice', 'POST', '/v1/requests?dryRun=true', access('payments', 'write', 99 * 3600));
    assert.deepEqual(many.evaluation.reasons, [
      'role must be one of read (got write for payments)',
      'durationSeconds 356400 exceeds maxDuration 1h for payments',
      'payments requires a ticket',
    ]);
    const stuck = await ok(s, 'erin', 'POST', '/v1/requests?dryRun=true', access('prod-k8s', 'view', 600));
    assert.equal(new Set(stuck.evaluation.reasons).size, stuck.evaluation.reasons.length, stuck.evaluation.reasons.join('\n'));
    const glass = await ok(s, 'dave', 'POST', '/v1/requests?dryRun=true', access('incident', 'admin', 600, { breakGlass: true }));
    assert.equal(glass.evaluation.autoApproved, true);
    await s.services.batcher.flush();
    assert.equal(await count(), before);
  });
});

describe('decisions', () => {
  test('approve_clockStartsWhenTheGrantActivates_notWhenRequested', async () => {
    const s = await server();
    const { request: req } = await request(s, 'alice', access('prod-db', 'write', 3600));
    await s.advance(10 * MIN);
    const approvedAt = s.clock.now();
    const r = await ok(s, 'bob', 'POST', `/v1/requests/${req.id}/approve`, { comment: 'looks fine' });
    assert.equal(r.request.status, 'approved');
    assert.equal(Date.parse(r.grant.startsAt), approvedAt);
    assert.equal(Date.parse(r.grant.expiresAt), approvedAt + HOUR);
    assert.deepEqual(
      r.request.approvals.map((a: any) => [a.approverId, a.decision, a.comment]),
      [['bob', 'approve', 'looks fine']],
    );
    const e = (await audit(s, { action: 'request.approved', requestId: req.id }))[0];
    assert.equal(e.actorId, 'bob');
    assert.equal(e.d.comment, 'looks fine');
  });

  test('approve_needsRequiredDistinctApprovals_sameApproverTwiceIs409_requesterNeverCounts', async () => {
    const s = await server();
    const { request: req } = await request(s, 'alice', access('prod-k8s', 'admin', 1800));
    assert.equal(req.requiredApprovals, 2);
    await fails(s, 'alice', 'POST', `/v1/requests/${req.id}/approve`, {}, 403, 'self_approval');
    const first = await ok(s, 'erin', 'POST', `/v1/requests/${req.id}/approve`, {});
    assert.equal(first.request.status, 'pending');
    assert.equal(first.grant, undefined);
    assert.equal(first.request.approvals.length, 1);
    await fails(s, 'erin', 'POST', `/v1/requests/${req.id}/approve`, {}, 409, 'conflict');
    assert.deepEqual(await check(s, 'alice', 'prod-k8s', 'admin'), { allowed: false });
    // erin no longer sees it as hers to review; frank does
    assert.ok(!(await ok(s, 'erin', 'GET', '/v1/requests?scope=reviewable')).requests.some((r: any) => r.id === req.id));
    assert.ok((await ok(s, 'frank', 'GET', '/v1/requests?scope=reviewable')).requests.some((r: any) => r.id === req.id));
    const second = await ok(s, 'frank', 'POST', `/v1/requests/${req.id}/approve`, {});
    assert.equal(second.request.status, 'approved');
    assert.equal(second.grant.status, 'active');
    const e = (await audit(s, { action: 'request.approved', requestId: req.id }))[0];
    assert.deepEqual(e.d.approvers, ['erin', 'frank']);
    assert.equal((await audit(s, { action: 'request.approval_recorded', requestId: req.id })).length, 1);
    await fails(s, 'frank', 'POST', `/v1/requests/${req.id}/approve`, {}, 409, 'conflict');
  });

  test('deny_endsTheRequestWithTheReason_andLaterDecisionsAre409', async () => {
    const s = await server();
    const { request: req } = await request(s, 'alice', access('prod-db', 'read', 600));
    await fails(s, 'bob', 'POST', `/v1/requests/${req.id}/deny`, {}, 400, 'invalid_request');
    await fails(s, 'bob', 'POST', `/v1/requests/${req.id}/deny`, { reason: '   ' }, 400, 'invalid_request');
    const r = await ok(s, 'bob', 'POST', `/v1/requests/${req.id}/deny`, { reason: 'not today' });
    assert.equal(r.request.status, 'denied');
    assert.ok(r.request.decidedAt);
    assert.equal((await audit(s, { action: 'request.denied', requestId: req.id }))[0].d.reason, 'not today');
    await fails(s, 'bob', 'POST', `/v1/requests/${req.id}/approve`, {}, 409, 'conflict');
    await fails(s, 'alice', 'POST', `/v1/requests/${req.id}/cancel`, undefined, 409, 'conflict');
    assert.equal(await s.sql.count('grants'), 0);
  });

  test('deny_byOneOfTwoRequiredApprovers_endsTheRequest', async () => {
    const s = await server();
    const { request: req } = await request(s, 'alice', access('prod-k8s', 'view', 600));
    await ok(s, 'erin', 'POST', `/v1/requests/${req.id}/approve`, {});
    const r = await ok(s, 'frank', 'POST', `/v1/requests/${req.id}/deny`, { reason: 'no' });
    assert.equal(r.request.status, 'denied');
  });

  test('cancel_byTheRequester_endsTheRequest_andNothingCanDecideItAfterwards', async () => {
    const s = await server();
    const { request: req } = await request(s, 'alice', access('prod-db', 'read', 600));
    const r = await ok(s, 'alice', 'POST', `/v1/requests/${req.id}/cancel`);
    assert.equal(r.request.status, 'cancelled');
    await fails(s, 'alice', 'POST', `/v1/requests/${req.id}/cancel`, undefined, 409, 'conflict');
    await fails(s, 'bob', 'POST', `/v1/requests/${req.id}/approve`, {}, 409, 'conflict');
    const e = await audit(s, { action: 'request.cancelled', requestId: req.id });
    assert.equal(e.length, 1);
    assert.equal(e[0].actorId, 'alice');
  });

  test('pendingTtl_aRequestNobodyDecided_expiresOnTime_viaTheScheduler', async () => {
    const s = await server();
    const { request: req } = await request(s, 'alice', access('prod-db', 'read', 600)); // pendingTtl 30m
    assert.equal(Date.parse(req.pendingUntil), s.clock.now() + 30 * MIN);
    await s.advance(30 * MIN - 1);
    assert.equal((await audit(s, { action: 'request.expired' })).length, 0);
    assert.equal((await ok(s, 'alice', 'GET', `/v1/requests/${req.id}`)).request.status, 'pending');
    await s.advance(1);
    const e = await audit(s, { action: 'request.expired', requestId: req.id });
    assert.equal(e.length, 1, 'the scheduler expired it at its deadline');
    assert.equal(e[0].at, s.clock.now());
    assert.equal((await ok(s, 'alice', 'GET', `/v1/requests/${req.id}`)).request.status, 'expired');
    await fails(s, 'bob', 'POST', `/v1/requests/${req.id}/approve`, {}, 409, 'conflict');
  });

  test('pendingTtl_aDecisionAtTheDeadlineBeforeTheSweep_is409AndRecordsTheExpiry', async () => {
    const s = await server();
    const { request: req } = await request(s, 'alice', access('prod-db', 'read', 600));
    s.services.scheduler.stop();
    await s.advance(30 * MIN);
    assert.equal((await ok(s, 'bob', 'GET', `/v1/requests/${req.id}`)).request.status, 'expired');
    await fails(s, 'bob', 'POST', `/v1/requests/${req.id}/approve`, {}, 409, 'conflict');
    assert.equal((await audit(s, { action: 'request.expired', requestId: req.id })).length, 1);
    assert.equal(await s.sql.count('grants'), 0);
  });
});

describe('break glass', () => {
  test('breakGlass_isApprovedAtOnce_andFlaggedInRequestAuditAndEvent', async () => {
    const s = await server();
    const r = await request(s, 'dave', access('incident', 'admin', 1800, { breakGlass: true, justification: 'prod is down' }));
    assert.equal(r.request.status, 'approved');
    assert.equal(r.request.breakGlass, true);
    assert.equal(r.grant.status, 'active');
    const created = (await audit(s, { action: 'request.created', requestId: r.request.id }))[0];
    assert.equal(created.d.breakGlass, true);
    assert.equal(created.d.justification, 'prod is down');
    const approved = (await audit(s, { action: 'request.approved', requestId: r.request.id }))[0];
    assert.equal(approved.actorId, 'dave');
    assert.equal(approved.d.how, 'break-glass');
    assert.equal(approved.d.breakGlass, true);
    assert.equal((await audit(s, { action: 'grant.activated', requestId: r.request.id }))[0].d.breakGlass, true);
    // approvers and admins see it (the live announcement is covered in sse.test.ts)
    for (const who of ['erin', 'frank', 'carol']) assert.equal((await s.call(who, 'GET', `/v1/requests/${r.request.id}`)).status, 200, who);
    assert.equal((await s.call('bob', 'GET', `/v1/requests/${r.request.id}`)).status, 404);
  });

  test('breakGlass_withoutTheFlag_isAnOrdinaryRequest', async () => {
    const s = await server();
    const r = await request(s, 'dave', access('incident', 'admin', 1800));
    assert.equal(r.request.status, 'pending');
    assert.equal(r.request.breakGlass, false);
  });
});

describe('extensions', () => {
  test('extend_withinWithoutApproval_isAppliedAtOnce', async () => {
    const s = await server();
    const { grant } = await request(s, 'alice', access('staging-db', 'read', 3600));
    await s.advance(10 * MIN);
    const r = await ok(s, 'alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 1800, justification: 'more' });
    assert.equal(Date.parse(r.grant.expiresAt), Date.parse(grant.expiresAt) + 1800_000);
    assert.equal(r.grant.extensions, 1);
    const e = (await audit(s, { action: 'grant.extended', grantId: grant.id }))[0];
    assert.equal(e.d.previousExpiresAt, grant.expiresAt);
    assert.equal(e.d.expiresAt, r.grant.expiresAt);
    assert.equal((await check(s, 'alice', 'staging-db', 'read')).expiresAt, r.grant.expiresAt);
  });

  test('extend_beyondWithoutApproval_is202WithAPendingRequest_andASecondIs409', async () => {
    const s = await server();
    const { grant } = await request(s, 'alice', access('staging-db', 'read', 3600));
    const r = await s.call('alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 3600 });
    assert.equal(r.status, 202);
    assert.equal(r.body.request.kind, 'extension');
    assert.equal(r.body.request.status, 'pending');
    assert.equal(r.body.request.grantId, grant.id);
    await fails(s, 'alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 2400 }, 409, 'conflict');
    // an at-once extension is still possible while one waits
    await ok(s, 'alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 600 });
    const approved = await ok(s, 'bob', 'POST', `/v1/requests/${r.body.request.id}/approve`, {});
    assert.equal(approved.request.status, 'approved');
    assert.equal(Date.parse(approved.grant.expiresAt), Date.parse(grant.expiresAt) + 600_000 + 3600_000);
  });

  test('extend_withoutApprovalBoundsTheTotalAddedAtOnce_fifteenAtOnceExtensionsAddOnly30m', async () => {
    // issue 14, item 9: a 30-minute auto-approved grant became 8 h through fifteen "+30m" at once
    const s = await server();
    const { grant } = await request(s, 'alice', access('staging-db', 'read', 1800)); // withoutApproval 30m, maxTotal 3h
    const replies = await Promise.all(Array.from({ length: 15 }, () => s.call('alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 1800 })));
    const statuses = replies.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 202, ...Array(13).fill(409)], 'one at once, one waits for approval, the rest conflict with it');
    const now = (await ok(s, 'alice', 'GET', `/v1/grants/${grant.id}`)).grant;
    assert.equal(Date.parse(now.expiresAt) - Date.parse(grant.expiresAt), 1800_000, 'only 30 minutes were added without an approver');
    assert.equal((await audit(s, { action: 'grant.extended', grantId: grant.id })).length, 1);
    // smaller steps spend the same budget: 10m + 10m after the 30m are no longer at once
    const pending = replies.find((r) => r.status === 202)!.body.request;
    assert.match(pending.evaluation.reasons.join(' '), /30m already added without approval; 30m more exceeds extension\.withoutApproval 30m per grant/);
    await ok(s, 'alice', 'POST', `/v1/requests/${pending.id}/cancel`, {});
    assert.equal((await s.call('alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 600 })).status, 202);
  });

  test('extend_approvedTimeDoesNotSpendTheAtOnceBudget', async () => {
    const s = await server();
    const { grant } = await request(s, 'alice', access('staging-db', 'read', 1800));
    const asked = await s.call('alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 3600 });
    assert.equal(asked.status, 202);
    await ok(s, 'bob', 'POST', `/v1/requests/${asked.body.request.id}/approve`, {});
    // 1h was approved; the whole 30m budget is still there, and then spent
    assert.equal((await s.call('alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 1200 })).status, 200);
    assert.equal((await s.call('alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 600 })).status, 200);
    assert.equal((await s.call('alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 60 })).status, 202);
  });

  test('grant_reportsTheSecondsAddedWithoutApproval_soThePickerCanLabelWhatIsLeft', async () => {
    const s = await server();
    const { grant } = await request(s, 'alice', access('staging-db', 'read', 1800)); // withoutApproval 30m
    assert.equal(grant.addedWithoutApprovalSeconds, 0);
    const asked = await s.call('alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 3600 });
    await ok(s, 'bob', 'POST', `/v1/requests/${asked.body.request.id}/approve`, {});
    const extended = await ok(s, 'alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 1200 });
    // approved time is not part of it; the at-once 20m is, in every view of the grant
    assert.equal(extended.grant.addedWithoutApprovalSeconds, 1200);
    assert.equal((await ok(s, 'alice', 'GET', `/v1/grants/${grant.id}`)).grant.addedWithoutApprovalSeconds, 1200);
    const listed = (await ok(s, 'alice', 'GET', '/v1/grants?scope=mine&status=active')).grants.find((g: { id: string }) => g.id === grant.id);
    assert.equal(listed.addedWithoutApprovalSeconds, 1200);
  });

  test('extend_pastMaxTotal_is422_evenWhenAnExtensionIsPending (422 before 409)', async () => {
    const s = await server();
    const { grant } = await request(s, 'alice', access('staging-db', 'read', 3600)); // maxTotal 3h
    assert.equal((await s.call('alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 3600 })).status, 202);
    const r = await fails(s, 'alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 2 * 3600 + 1 }, 422, 'policy_violation');
    assert.match(r.error.message, /maxTotal/);
    // exactly up to maxTotal is fine policy-wise (then 409 because one is pending)
    await fails(s, 'alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 2 * 3600 }, 409, 'conflict');
  });

  test('extend_approvedLater_isCappedByMaxTotal', async () => {
    const s = await server();
    const { grant } = await request(s, 'alice', access('staging-db', 'read', 3600));
    const start = Date.parse(grant.startsAt);
    const pending = await s.call('alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 2 * 3600 }); // 1h + 2h = 3h ≤ 3h
    assert.equal(pending.status, 202);
    await ok(s, 'alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 1800 }); // now 1.5h (the whole at-once budget)
    const r = await ok(s, 'bob', 'POST', `/v1/requests/${pending.body.request.id}/approve`, {});
    assert.equal(Date.parse(r.grant.expiresAt), start + 3 * HOUR, 'capped at startsAt + maxTotal');
    assert.equal((await audit(s, { action: 'grant.extended', requestId: pending.body.request.id }))[0].d.capped, true);
    await fails(s, 'alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 1 }, 422, 'policy_violation');
  });

  test('extend_whenNobodyElseCouldApprove_is422', async () => {
    const s = await server();
    // dave's grant on incident by break glass; extensions of incident need approval (withoutApproval 0) by sre = erin, frank: fine
    const { grant } = await request(s, 'erin', access('incident', 'admin', 600, { breakGlass: true }));
    assert.equal((await s.call('erin', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 600 })).status, 202);
    const solo = await server({
      policy: `
users: [{id: erin, groups: [sre]}, {id: svc, roles: [service]}]
resources:
  - {id: solo, roles: [admin], maxDuration: 1h, breakGlass: true, approval: {approvers: ["user:erin"]}}
`,
    });
    const g = (await request(solo, 'erin', access('solo', 'admin', 600, { breakGlass: true }))).grant;
    await fails(solo, 'erin', 'POST', `/v1/grants/${g.id}/extend`, { durationSeconds: 600 }, 422, 'policy_violation');
  });

  for (const how of ['relinquish', 'revoke', 'expiry'] as const) {
    test(`extend_pendingExtension_isCancelledWhenTheGrantEnds_by_${how}`, async () => {
      const s = await server();
      const { grant } = await request(s, 'alice', access('staging-db', 'read', 3600));
      const p = await s.call('alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 3600 });
      assert.equal(p.status, 202);
      if (how === 'relinquish') await ok(s, 'alice', 'POST', `/v1/grants/${grant.id}/relinquish`);
      if (how === 'revoke') await ok(s, 'bob', 'POST', `/v1/grants/${grant.id}/revoke`, { reason: 'incident over' });
      if (how === 'expiry') await s.advance(HOUR);
      const req = (await ok(s, 'alice', 'GET', `/v1/requests/${p.body.request.id}`)).request;
      assert.equal(req.status, 'cancelled');
      const e = await audit(s, { action: 'request.cancelled', requestId: req.id });
      assert.equal(e.length, 1);
      assert.equal(e[0].actorId, 'system');
      assert.equal((await audit(s, { action: 'request.expired', requestId: req.id })).length, 0);
      await fails(s, 'bob', 'POST', `/v1/requests/${req.id}/approve`, {}, 409, 'conflict');
    });
  }
});

describe('endings', () => {
  test('relinquish_byTheOwner_endsTheGrantAtOnce', async () => {
    const s = await server();
    const grant = await prodGrant(s);
    await s.advance(5 * MIN);
    const r = await ok(s, 'alice', 'POST', `/v1/grants/${grant.id}/relinquish`);
    assert.equal(r.grant.status, 'relinquished');
    assert.equal(r.grant.endedBy, 'alice');
    assert.equal(Date.parse(r.grant.endedAt), s.clock.now());
    assert.deepEqual(await check(s, 'alice', 'prod-db', 'read'), { allowed: false });
    await fails(s, 'alice', 'POST', `/v1/grants/${grant.id}/relinquish`, undefined, 409, 'conflict');
    await fails(s, 'alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 60 }, 409, 'conflict');
    assert.equal((await audit(s, { action: 'grant.relinquished', grantId: grant.id })).length, 1);
  });

  test('revoke_byApproverOrAdmin_endsTheGrantWithTheReason', async () => {
    const s = await server();
    for (const who of ['bob', 'carol']) {
      const grant = await prodGrant(s);
      const r = await ok(s, who, 'POST', `/v1/grants/${grant.id}/revoke`, { reason: `revoked by ${who}` });
      assert.equal(r.grant.status, 'revoked');
      assert.equal(r.grant.endedBy, who);
      assert.equal(r.grant.endReason, `revoked by ${who}`);
      const e = await audit(s, { action: 'grant.revoked', grantId: grant.id });
      assert.equal(e.length, 1);
      assert.equal(e[0].d.reason, `revoked by ${who}`);
      await fails(s, who, 'POST', `/v1/grants/${grant.id}/revoke`, { reason: 'again' }, 409, 'conflict');
    }
    assert.deepEqual(await check(s, 'alice', 'prod-db', 'read'), { allowed: false });
  });
});

describe('exact expiry (rule 1)', () => {
  test('atExpiresAtExactly_checkDeniesAndTheGrantReadsExpired_evenBeforeTheSweepRuns', async () => {
    const s = await server();
    const grant = await prodGrant(s, 600);
    const end = Date.parse(grant.expiresAt);
    s.services.scheduler.stop(); // the sweep is stalled
    await s.advance(end - 1 - s.clock.now());
    assert.equal((await check(s, 'alice', 'prod-db', 'read')).allowed, true, '1 ms before the end');
    await s.advance(1);
    assert.deepEqual(await check(s, 'alice', 'prod-db', 'read'), { allowed: false });
    const g = (await ok(s, 'alice', 'GET', `/v1/grants/${grant.id}`)).grant;
    assert.equal(g.status, 'expired');
    assert.equal(g.endedAt, grant.expiresAt);
    const active = await ok(s, 'alice', 'GET', '/v1/grants?status=active');
    assert.deepEqual(active.grants, []);
    const expired = await ok(s, 'alice', 'GET', '/v1/grants?status=expired');
    assert.deepEqual(
      expired.grants.map((x: any) => x.id),
      [grant.id],
    );
    const all = await ok(s, 'carol', 'GET', '/v1/grants?scope=all');
    assert.ok(all.grants.every((x: any) => x.status !== 'active'));
    await fails(s, 'alice', 'POST', `/v1/grants/${grant.id}/relinquish`, undefined, 409, 'conflict');
    await fails(s, 'bob', 'POST', `/v1/grants/${grant.id}/revoke`, { reason: 'x' }, 409, 'conflict');
    await fails(s, 'alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 60 }, 409, 'conflict');
    assert.equal((await audit(s, { action: 'grant.expired' })).length, 0, 'nothing swept yet');
    // the sweep catches up when it runs again
    s.services.scheduler.start();
    await s.settle();
    const e = await audit(s, { action: 'grant.expired', grantId: grant.id });
    assert.equal(e.length, 1);
    assert.equal(e[0].d.endedAt, grant.expiresAt);
  });

  test('theSweep_expiresAGrantAtItsExpiresAt_withItsEvent', async () => {
    const s = await server();
    const grant = await prodGrant(s, 600);
    await s.advance(600_000);
    const e = await audit(s, { action: 'grant.expired', grantId: grant.id });
    assert.equal(e.length, 1);
    assert.equal(e[0].at, Date.parse(grant.expiresAt), 'swept at the due instant, not on a poll');
    assert.equal(e[0].d.lateMs, 0);
    assert.equal(e[0].actorId, 'system');
    assert.equal((await s.store.read((tx) => tx.grants.get(grant.id)))?.status, 'expired');
  });

  test('afterARestart_grantsThatEndedWhileDown_areExpiredAtOnceAndMarkedRecovered', async () => {
    const s = await server();
    const short = await prodGrant(s, 60);
    const long = await prodGrant(s, 3600);
    await s.services.stop();
    await s.advance(10 * MIN); // down: no scheduler
    const caught = await s.restart();
    assert.equal(caught.grants, 1);
    const e = await audit(s, { action: 'grant.expired', grantId: short.id });
    assert.equal(e.length, 1);
    assert.equal(e[0].d.recovered, true);
    assert.equal(e[0].d.lateMs, 10 * MIN - 60_000);
    assert.equal((await ok(s, 'alice', 'GET', `/v1/grants/${long.id}`)).grant.status, 'active');
    assert.equal((await check(s, 'alice', 'prod-db', 'read')).grantId, long.id);
  });
});

describe('expiry warnings', () => {
  const warnings = async (s: TestServer, grantId: string) =>
    (await audit(s, { action: 'grant.expiring', grantId })).map((e) => [e.d.threshold, e.d.secondsLeft, e.at]);

  test('grantExpiring_isRaisedAt5AndAt1MinuteBeforeTheEnd', async () => {
    const s = await server();
    const grant = await prodGrant(s, 10 * 60);
    const end = Date.parse(grant.expiresAt);
    await s.advance(end - 5 * MIN - 1 - s.clock.now());
    assert.deepEqual(await warnings(s, grant.id), []);
    await s.advance(1);
    assert.deepEqual(await warnings(s, grant.id), [[300, 300, end - 5 * MIN]]);
    await s.advance(4 * MIN);
    assert.deepEqual(await warnings(s, grant.id), [
      [300, 300, end - 5 * MIN],
      [60, 60, end - MIN],
    ]);
    await s.advance(MIN);
    assert.equal((await warnings(s, grant.id)).length, 2);
  });

  test('grantExpiring_aGrantShorterThanAThreshold_getsNoEventForIt', async () => {
    const s = await server();
    const three = await prodGrant(s, 3 * 60);
    const half = await prodGrant(s, 30);
    await s.advance(10 * MIN);
    assert.deepEqual(
      (await warnings(s, three.id)).map((w) => w[0]),
      [60],
    );
    assert.deepEqual(await warnings(s, half.id), []);
  });

  test('grantExpiring_afterAnExtension_isRaisedAgainForTheNewEnd', async () => {
    const s = await server();
    const { grant } = await request(s, 'alice', access('staging-db', 'read', 10 * 60));
    await s.advance(6 * MIN); // 4 min left: the 5-minute warning went out
    assert.equal((await warnings(s, grant.id)).length, 1);
    const r = await ok(s, 'alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 1800 });
    const end = Date.parse(r.grant.expiresAt);
    await s.advance(end - s.clock.now());
    assert.deepEqual(
      (await warnings(s, grant.id)).map((w) => [w[0], w[2]]),
      [
        [300, Date.parse(grant.expiresAt) - 5 * MIN],
        [300, end - 5 * MIN],
        [60, end - MIN],
      ],
    );
  });
});

describe('validation', () => {
  test('textLongerThan2000Characters_is400_and2000IsFine', async () => {
    const s = await server();
    const r = await fails(s, 'alice', 'POST', '/v1/requests', access('prod-db', 'read', 600, { justification: 'x'.repeat(2001) }), 400, 'invalid_request');
    assert.ok(
      r.error.details.some((d: any) => d.path === 'body.justification'),
      JSON.stringify(r.error.details),
    );
    const { request: req } = await request(s, 'alice', access('prod-db', 'read', 600, { justification: 'x'.repeat(2000) }));
    await fails(s, 'bob', 'POST', `/v1/requests/${req.id}/approve`, { comment: 'c'.repeat(2001) }, 400, 'invalid_request');
    await fails(s, 'bob', 'POST', `/v1/requests/${req.id}/deny`, { reason: 'r'.repeat(2001) }, 400, 'invalid_request');
    assert.equal((await ok(s, 'alice', 'GET', `/v1/requests/${req.id}`)).request.status, 'pending');
  });

  test('aBodyOver64KiB_is413', async () => {
    const s = await server();
    const big = JSON.stringify(access('prod-db', 'read', 600, { justification: 'x'.repeat(65 * 1024) }));
    const r = await s.call('alice', 'POST', '/v1/requests', big);
    assert.deepEqual([r.status, errorCode(r)], [413, 'payload_too_large']);
    assert.equal(await s.sql.count('requests'), 0);
  });
});

describe('policy reload', () => {
  test('reload_revokesGrantsOfRemovedUsersAndResources_cancelsTheirRequests_andRevokesTokens', async () => {
    const s = await server();
    const aliceGrant = await prodGrant(s);
    const alicePending = (await request(s, 'alice', access('prod-k8s', 'view', 600))).request;
    const daveStaging = (await request(s, 'dave', access('staging-db', 'read', 600))).grant;
    const davePending = (await request(s, 'dave', access('staging-db', 'write', 600))).request;
    const { request: daveProdReq } = await request(s, 'dave', access('prod-db', 'read', 600));
    const daveProd = (await ok(s, 'bob', 'POST', `/v1/requests/${daveProdReq.id}/approve`, {})).grant;

    const next = TEST_POLICY.replace(/  - id: alice\n    name: Alice Liddell\n    groups: \[developers\]\n/, '').replace(
      /  # auto-approval for developers[\s\S]*?withoutApproval: 30m\n/,
      '',
    );
    const policy = policyOf(next);
    assert.ok(!policy.users.has('alice') && !policy.resources.has('staging-db'), 'test policy edit');
    s.policy = policy;
    await s.services.reload(policy, { usersRemoved: ['alice'], resourcesRemoved: ['staging-db'] });

    for (const [id, who] of [
      [aliceGrant.id, 'carol'],
      [daveStaging.id, 'dave'],
    ]) {
      const g = (await ok(s, who, 'GET', `/v1/grants/${id}`)).grant;
      assert.equal(g.status, 'revoked', id);
      assert.equal(g.endReason, 'policy');
      assert.equal(g.endedBy, 'system');
    }
    assert.equal((await ok(s, 'carol', 'GET', `/v1/requests/${alicePending.id}`)).request.status, 'cancelled');
    assert.equal((await ok(s, 'dave', 'GET', `/v1/requests/${davePending.id}`)).request.status, 'cancelled');
    assert.equal((await ok(s, 'dave', 'GET', `/v1/grants/${daveProd.id}`)).grant.status, 'active', 'untouched');
    const who = await s.call('alice', 'GET', '/v1/me');
    assert.deepEqual([who.status, errorCode(who)], [401, 'unauthenticated']);
    assert.equal((await audit(s, { action: 'token.revoked' })).filter((e) => e.d.userId === 'alice' && e.d.reason === 'policy').length, 1);
    assert.equal((await s.store.read((tx) => tx.tokens.get(s.tokenIds.alice)))?.revokedAt, s.clock.now());
    assert.equal((await audit(s, { action: 'policy.reloaded' })).length, 1);
    assert.equal((await audit(s, { action: 'grant.revoked' })).filter((e) => e.d.reason === 'policy').length, 2);
    assert.deepEqual(await check(s, 'alice', 'prod-db', 'read'), { allowed: false });
    assert.deepEqual((await ok(s, 'carol', 'GET', '/v1/audit/verify')).ok, true);
  });
});

describe('policy changes and pending work (rule 4)', () => {
  test('reload_thatCutsMaxDuration_cancelsAPendingRequestThatNoLongerFits', async () => {
    const s = await server();
    const { request: req } = await request(s, 'alice', access('prod-db', 'read', 4 * 3600));
    const cut = policyOf(TEST_POLICY.replace('maxDuration: 4h', 'maxDuration: 1h'));
    s.policy = cut;
    await s.services.reload(cut, {});
    const r = await s.call('bob', 'POST', `/v1/requests/${req.id}/approve`, {});
    assert.deepEqual([r.status, errorCode(r)], [409, 'conflict']);
    const after = await s.call('alice', 'GET', `/v1/requests/${req.id}`);
    assert.equal(after.body.request.status, 'cancelled');
    assert.ok((await audit(s)).some((e) => e.action === 'request.cancelled' && e.requestId === req.id && e.d.reason === 'policy'));
  });

  test('reload_thatCutsMaxTotal_capsAnExtensionApprovedAfterwards', async () => {
    const s = await server();
    const { grant } = await request(s, 'alice', access('staging-db', 'read', 3600));
    const p = await s.call('alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 5400 });
    assert.equal(p.status, 202);
    const cut = policyOf(TEST_POLICY.replace('maxTotal: 3h', 'maxTotal: 2h'));
    s.policy = cut;
    await s.services.reload(cut, {});
    const r = await s.call('bob', 'POST', `/v1/requests/${p.body.request.id}/approve`, {});
    if (r.status === 200)
      assert.ok(Date.parse(r.body.grant.expiresAt) <= Date.parse(grant.startsAt) + 2 * HOUR, `extended to ${r.body.grant.expiresAt}, past startsAt + 2h`);
    else assert.deepEqual([r.status, errorCode(r)], [422, 'policy_violation']);
  });

  test('reload_thatRaisesMaxTotal_letsAnAtOnceExtensionReallyExtend (no silent 200)', async () => {
    // an at-once budget (extension.withoutApproval) large enough for every step below
    const roomy = TEST_POLICY.replace('withoutApproval: 30m', 'withoutApproval: 3h');
    const s = await server({ policy: roomy });
    const { grant } = await request(s, 'alice', access('staging-db', 'read', 3600));
    await ok(s, 'alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 1800 });
    await ok(s, 'alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 1800 });
    await ok(s, 'alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 1800 }); // 2.5h of 3h
    const raised = policyOf(roomy.replace('maxTotal: 3h', 'maxTotal: 6h'));
    s.policy = raised;
    await s.services.reload(raised, {});
    await ok(s, 'alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 1800 }); // 3h: the old limit
    const before = Date.parse((await ok(s, 'alice', 'GET', `/v1/grants/${grant.id}`)).grant.expiresAt);
    const r = await s.call('alice', 'POST', `/v1/grants/${grant.id}/extend`, { durationSeconds: 1800 }); // 3.5h, within the new 6h
    if (r.status === 200) assert.equal(Date.parse(r.body.grant.expiresAt), before + 1800_000, 'a 200 means the 30 minutes were added');
    else assert.deepEqual([r.status, errorCode(r)], [422, 'policy_violation']);
  });
});

describe('audit', () => {
  async function activity(s: TestServer) {
    await request(s, 'alice', access('staging-db', 'read', 600));
    await s.advance(MIN);
    const g = await prodGrant(s);
    await s.advance(MIN);
    await request(s, 'dave', access('staging-db', 'read', 600));
    await request(s, 'dave', access('incident', 'admin', 600, { breakGlass: true }));
    await s.advance(MIN);
    await ok(s, 'bob', 'POST', `/v1/grants/${g.id}/revoke`, { reason: 'done' });
    await check(s, 'alice', 'prod-db', 'read');
    await check(s, 'dave', 'incident', 'admin');
  }

  test('query_filtersByActorResourceActionAndTime_andPagesWithoutGapsOrDuplicates', async () => {
    const s = await server();
    await activity(s);
    const all = await audit(s);
    const everything = await ok(s, 'audrey', 'GET', '/v1/audit?limit=1000');
    assert.deepEqual(
      everything.events.map((e: any) => e.seq),
      all.map((r) => r.seq).reverse(),
      'newest first, complete',
    );

    const pages: number[] = [];
    let cursor: string | null = null;
    let n = 0;
    do {
      const page: any = await ok(s, 'audrey', 'GET', `/v1/audit?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      assert.ok(page.events.length <= 3);
      pages.push(...page.events.map((e: any) => e.seq));
      cursor = page.nextCursor;
      assert.ok(++n < 100);
    } while (cursor);
    assert.deepEqual(pages, all.map((r) => r.seq).reverse());

    const byActor = await ok(s, 'carol', 'GET', '/v1/audit?actorId=bob&limit=1000');
    assert.deepEqual(
      byActor.events.map((e: any) => e.seq),
      all
        .filter((r) => r.actorId === 'bob')
        .map((r) => r.seq)
        .reverse(),
    );
    const byResource = await ok(s, 'carol', 'GET', '/v1/audit?resourceId=staging-db&limit=1000');
    assert.deepEqual(
      byResource.events.map((e: any) => e.seq),
      all
        .filter((r) => r.resourceId === 'staging-db')
        .map((r) => r.seq)
        .reverse(),
    );
    const byAction = await ok(s, 'carol', 'GET', '/v1/audit?action=request.created&limit=1000');
    assert.deepEqual(
      byAction.events.map((e: any) => e.seq),
      all
        .filter((r) => r.action === 'request.created')
        .map((r) => r.seq)
        .reverse(),
    );
    const t1 = all.find((r) => r.action === 'grant.revoked')!.at;
    const from = new Date(t1).toISOString();
    const byTime = await ok(s, 'carol', 'GET', `/v1/audit?from=${from}&limit=1000`);
    assert.deepEqual(
      byTime.events.map((e: any) => e.seq),
      all
        .filter((r) => r.at >= t1)
        .map((r) => r.seq)
        .reverse(),
    );
    const until = await ok(s, 'carol', 'GET', `/v1/audit?to=${from}&limit=1000`);
    assert.deepEqual(
      until.events.map((e: any) => e.seq),
      all
        .filter((r) => r.at < t1)
        .map((r) => r.seq)
        .reverse(),
    );
    const combined = await ok(s, 'carol', 'GET', `/v1/audit?resourceId=prod-db&action=grant.revoked`);
    assert.equal(combined.events.length, 1);

    await fails(s, 'carol', 'GET', '/v1/audit?cursor=not-a-cursor', undefined, 400, 'invalid_request');
    await fails(s, 'carol', 'GET', '/v1/audit?from=yesterday', undefined, 400, 'invalid_request');
    await fails(s, 'carol', 'GET', '/v1/audit?limit=0', undefined, 400, 'invalid_request');
  });

  test('query_byAnyoneElse_showsOnlyEventsAboutThemselves_includingAccessChecks', async () => {
    const s = await server();
    await activity(s);
    const all = await audit(s);
    for (const user of ['alice', 'dave', 'bob', 'erin']) {
      const mine = await ok(s, user, 'GET', '/v1/audit?limit=1000');
      const expected = all
        .filter((r) => r.actorId === user || r.storedSubjectId === user)
        .map((r) => r.seq)
        .reverse();
      assert.deepEqual(
        mine.events.map((e: any) => e.seq),
        expected,
        user,
      );
      // a filter cannot widen the view
      const others = await ok(s, user, 'GET', '/v1/audit?actorId=system&limit=1000');
      assert.ok(
        others.events.every((e: any) => all.find((r) => r.seq === e.seq)!.storedSubjectId === user),
        `${user} sees system events about others`,
      );
    }
    const alice = await ok(s, 'alice', 'GET', '/v1/audit?action=access.checked');
    assert.equal(alice.events.length, 1);
    assert.equal(alice.events[0].details.userId, 'alice');
    assert.equal(alice.events[0].actorId, 'svc');
    const erin = await ok(s, 'erin', 'GET', '/v1/audit?limit=1000');
    assert.ok(!erin.events.some((e: any) => e.action === 'request.created' && e.details.breakGlass), 'break-glass audit rows are not about erin');
  });

  test("policy_withAUserNamedLikeAnInternalActor_isRefused (so nobody can read the server's own audit entries as theirs)", () => {
    const r = parsePolicy(TEST_POLICY.replace('  - id: svc\n', '  - id: system\n  - id: anonymous\n  - id: cli\n  - id: svc\n'));
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.errors.filter((e) => /reserved/.test(e)).length, 3);
  });

  test('verify_reportsAnIntactChainWithItsHead', async () => {
    const s = await server();
    await activity(s);
    const r = await ok(s, 'audrey', 'GET', '/v1/audit/verify');
    const rows = await audit(s);
    assert.deepEqual(r, {
      ok: true,
      count: rows.length,
      headHash: rows.at(-1)!.hash,
    });
    assert.equal((await s.store.read((tx) => tx.audit.verify())).ok, true);
  });
});
