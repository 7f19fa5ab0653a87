// Issue 15 on the server: resources' hints are served in GET /v1/resources, and a request a coding
// agent's tool made says so in the audit log (details.via: "agent").
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { access, loggedEvents, makeServer, type TestServer } from '../helpers/server.js';
import { TEST_POLICY } from '../helpers/policy.js';

const HINTED = TEST_POLICY.replace(
  /(  - id: prod-db\n)/,
  `$1    hints:\n      hosts: [db.prod.internal]\n      databases: [orders]\n      awsAccounts: ["123456789012"]\n`,
);

let s: TestServer;
before(async () => {
  s = await makeServer({ policy: HINTED });
});
after(async () => {
  await s?.close();
});

const createdDetails = async (requestId: string): Promise<Record<string, unknown>> => {
  const [created] = await loggedEvents(s, { action: 'request.created', requestId });
  assert.ok(created, 'request.created is logged');
  return created.details;
};

describe('resource hints', () => {
  test('getResources_servesEachResourcesHints_andNoneWhereThePolicyGivesNone', async () => {
    assert.ok(HINTED !== TEST_POLICY, 'the test policy has a prod-db to add hints to');
    const r = await s.call('alice', 'GET', '/v1/resources');
    assert.equal(r.status, 200);
    const byId = new Map(r.body.resources.map((x: { id: string }) => [x.id, x]));
    assert.deepEqual((byId.get('prod-db') as { hints: unknown }).hints, { hosts: ['db.prod.internal'], databases: ['orders'], awsAccounts: ['123456789012'] });
    assert.equal('hints' in (byId.get('staging-db') as object), false);
  });
});

describe('requests made by an agent', () => {
  test('createRequest_viaAgent_isMarkedInTheAuditLog', async () => {
    const r = await s.call(
      'alice',
      'POST',
      '/v1/requests',
      access('prod-db', 'read', 600, { via: 'agent', justification: 'agent: investigating slow orders' }),
    );
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal((await createdDetails(r.body.request.id)).via, 'agent');
  });

  test('createRequest_fromThePeople_hasNoViaInTheAuditLog', async () => {
    const r = await s.call('alice', 'POST', '/v1/requests', access('staging-db', 'read', 600));
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal('via' in (await createdDetails(r.body.request.id)), false);
  });

  test('createRequest_withAnUnknownVia_is400NamingTheField', async () => {
    const r = await s.call('alice', 'POST', '/v1/requests', access('prod-db', 'read', 600, { via: 'robot' }));
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'invalid_request');
    assert.match(JSON.stringify(r.body.error), /via/);
  });

  test('dryRun_viaAgent_isEvaluatedLikeAnyOther', async () => {
    const r = await s.call('alice', 'POST', '/v1/requests?dryRun=true', access('staging-db', 'read', 600, { via: 'agent' }));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.evaluation.allowed, true);
  });
});
