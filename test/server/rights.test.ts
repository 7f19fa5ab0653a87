// Rights follow the policy in force now (security review 2, items 2, 4 and 5): open event
// streams, decisions on pending requests and every record embedded in an answer are decided by
// server/domain/rights.ts with the current policy, never with what held at connect or request time.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loggedEvents, makeServer, policyOf, type TestServer } from '../helpers/server.js';
import { TEST_POLICY } from '../helpers/policy.js';
import { openEvents } from '../helpers/sse.js';

const access = (resourceId: string, role: string, durationSeconds = 600) => ({ resourceId, role, durationSeconds, justification: 'rights test' });

async function created(s: TestServer, user: string, body: object): Promise<string> {
  const r = await s.call(user, 'POST', '/v1/requests', body);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.request.id as string;
}

async function reload(s: TestServer, yaml: string): Promise<void> {
  const policy = policyOf(yaml);
  s.policy = policy;
  await s.services.reload(policy, {});
}

async function auditDetails(s: TestServer, action: string, requestId: string): Promise<Record<string, unknown>[]> {
  return (await loggedEvents(s, { action, requestId })).map((e) => e.details);
}

describe('open event streams follow current rights', () => {
  test('stream_ofAnAdminDemotedByReload_stopsCarryingOthersRequests_atTheNextEvent', async (t) => {
    const s = await makeServer();
    t.after(() => s.close());
    const { url } = await s.listen();
    const carol = await openEvents(url, s.tokens.carol);
    const bob = await openEvents(url, s.tokens.bob); // an approver of prod-db: the control
    t.after(() => (carol.close(), bob.close()));
    const first = await created(s, 'alice', access('prod-db', 'read'));
    await carol.waitFor((e) => e.event === 'request.created' && e.data.request.id === first, 3000, 'admin sees the request');

    await reload(s, TEST_POLICY.replace('  - id: carol\n    roles: [admin]\n', '  - id: carol\n'));
    const second = await created(s, 'alice', access('prod-db', 'read'));
    await bob.waitFor((e) => e.event === 'request.created' && e.data.request.id === second, 3000, 'the approver gets it');
    // events reach each stream in log order: once carol has her own later event, she has
    // everything she was ever going to get before it
    const mine = await created(s, 'carol', access('staging-db', 'read'));
    await carol.waitFor((e) => e.data?.request?.id === mine, 3000, "carol's own request");
    assert.ok(!carol.events.some((e) => e.data?.request?.id === second), "the demoted admin no longer receives others' requests");
    assert.ok(!carol.isEnded(), 'carol is still a user: her stream stays open with her new rights');
  });

  test('stream_ofAUserRemovedByReload_isClosed', async (t) => {
    const s = await makeServer();
    t.after(() => s.close());
    const { url } = await s.listen();
    const dave = await openEvents(url, s.tokens.dave);
    t.after(() => dave.close());
    await reload(s, TEST_POLICY.replace('  - id: dave\n    name: Dave Lister\n    groups: [developers, oncall]\n', ''));
    await Promise.race([dave.ended, new Promise((_, fail) => setTimeout(() => fail(new Error('stream still open')), 3000))]);
  });

  test('replay_afterDemotion_sendsOnlyWhatTheCurrentRightsAllow', async (t) => {
    const s = await makeServer();
    t.after(() => s.close());
    const { url } = await s.listen();
    const id = await created(s, 'alice', access('prod-db', 'read'));
    await reload(s, TEST_POLICY.replace('  - id: carol\n    roles: [admin]\n', '  - id: carol\n'));
    const carol = await openEvents(url, s.tokens.carol, 0);
    t.after(() => carol.close());
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!carol.events.some((e) => e.data?.request?.id === id), "a replay from 0 must not hand the old admin alice's request");
  });
});

describe('decisions apply the policy in force when they are made', () => {
  test('raisedRequired_appliesToAPendingRequest', async (t) => {
    const s = await makeServer();
    t.after(() => s.close());
    const id = await created(s, 'alice', access('prod-db', 'read'));
    await reload(
      s,
      TEST_POLICY.replace('  - id: erin\n', '  - id: hal\n    groups: [dba]\n  - id: erin\n').replace(
        'pendingTtl: 30m\n    approval:\n      approvers: [group:dba]\n      required: 1',
        'pendingTtl: 30m\n    approval:\n      approvers: [group:dba]\n      required: 2',
      ),
    );
    const afterBob = await s.call('bob', 'POST', `/v1/requests/${id}/approve`, {});
    assert.equal(afterBob.status, 200);
    assert.equal(afterBob.body.request.status, 'pending', 'one approval is no longer enough');
    assert.equal(afterBob.body.grant, undefined);
    assert.equal((await auditDetails(s, 'request.approval_recorded', id))[0]?.required, 2);
    const tokenHal = (await s.services.tokens.issue('hal', { actorId: 'test' })).token;
    const afterHal = await s.call(null, 'POST', `/v1/requests/${id}/approve`, {}, { authorization: `Bearer ${tokenHal}` });
    assert.equal(afterHal.body.request.status, 'approved');
  });

  test('approval_bySomeoneNoLongerAnApprover_doesNotCount_andIsAudited', async (t) => {
    const s = await makeServer();
    t.after(() => s.close());
    const id = await created(s, 'alice', access('prod-k8s', 'view')); // 2 approvals from sre
    assert.equal((await s.call('erin', 'POST', `/v1/requests/${id}/approve`, {})).body.request.status, 'pending');
    await reload(s, TEST_POLICY.replace('  - id: erin\n    groups: [sre]\n', '  - id: erin\n    groups: [ops]\n  - id: gina\n    groups: [sre]\n'));
    const afterFrank = await s.call('frank', 'POST', `/v1/requests/${id}/approve`, {});
    assert.equal(afterFrank.body.request.status, 'pending', "erin's approval no longer counts");
    assert.deepEqual((await auditDetails(s, 'request.approval_recorded', id)).at(-1)?.notCounted, ['erin']);
    const tokenGina = (await s.services.tokens.issue('gina', { actorId: 'test' })).token;
    const afterGina = await s.call(null, 'POST', `/v1/requests/${id}/approve`, {}, { authorization: `Bearer ${tokenGina}` });
    assert.equal(afterGina.body.request.status, 'approved');
    const approved = (await auditDetails(s, 'request.approved', id))[0];
    assert.deepEqual([approved?.approvers, approved?.notCounted], [['frank', 'gina'], ['erin']]);
  });
});

describe('records embedded in answers pass their own visibility rule', () => {
  test('audit_ofTheRequester_hidesWhereTheApproverActedFrom_auditorsAndTheApproverSeeIt', async (t) => {
    const s = await makeServer();
    t.after(() => s.close());
    const id = await created(s, 'alice', access('prod-db', 'read'));
    assert.equal((await s.call('bob', 'POST', `/v1/requests/${id}/approve`, {}, { 'user-agent': 'BobsBrowser/1.0' })).status, 200);
    const approvedFor = async (user: string) =>
      ((await s.call(user, 'GET', '/v1/audit?action=request.approved')).body.events as { requestId: string; details: Record<string, unknown> }[]).find(
        (e) => e.requestId === id,
      );
    const asAlice = await approvedFor('alice');
    assert.ok(asAlice, 'the requester sees the approval of her request');
    assert.ok(!('ip' in asAlice.details) && !('userAgent' in asAlice.details), JSON.stringify(asAlice.details));
    assert.equal(asAlice.details.comment, null, 'the rest of the details stay');
    assert.equal((await approvedFor('audrey'))?.details.userAgent, 'BobsBrowser/1.0');
    assert.equal((await approvedFor('bob'))?.details.userAgent, 'BobsBrowser/1.0');
  });

  test('requesterHistory_holdsOnlyRequestsTheApproverCouldOpen', async (t) => {
    const s = await makeServer();
    t.after(() => s.close());
    const k8s = await created(s, 'alice', { ...access('prod-k8s', 'view'), justification: 'secret k8s reason' });
    const staging = await created(s, 'alice', access('staging-db', 'write'));
    const prod = await created(s, 'alice', access('prod-db', 'read'));
    assert.equal((await s.call('bob', 'GET', `/v1/requests/${k8s}`)).status, 404, 'bob may not open the prod-k8s request');
    const r = await s.call('bob', 'GET', `/v1/requests/${prod}`);
    const ids = (r.body.requesterHistory as { id: string }[]).map((h) => h.id);
    assert.deepEqual(ids, [staging], 'the staging-db request (bob approves it) and nothing bob gets 404 for');
  });
});
