// Who hears of what on the live stream (domain/rights.ts), for issue 16: approvers hear when access
// they let through could not be set up, and follow the life of the grants they may revoke.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePolicy } from '../../server/domain/policy.js';
import { receivesEvent } from '../../server/domain/rights.js';

const parsed = parsePolicy(`
users:
  - { id: alice, groups: [developers] }
  - { id: bob, groups: [dba] }
  - { id: erin, groups: [sre] }
resources:
  - id: prod-db
    roles: [read]
    maxDuration: 1h
    approval: { approvers: [group:dba], required: 1 }
`);
if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
const policy = parsed.policy;
const u = (id: string) => policy.users.get(id)!;
const about = (action: string) => ({ action, actorId: 'system', resourceId: 'prod-db', subjectId: 'alice' });

test('grantFailed_reachesTheOwnerAndTheResourcesApprovers_andNobodyElse', () => {
  assert.deepEqual(
    ['alice', 'bob', 'erin'].map((id) => receivesEvent(policy, u(id), about('grant.failed'))),
    [true, true, false],
  );
});

test('grantLife_reachesTheOwnerAndThoseWhoMayRevokeIt_soTheirListOfRevocableAccessFollowsIt', () => {
  for (const action of ['grant.activated', 'grant.extended', 'grant.expired', 'grant.revoked', 'grant.relinquished']) {
    assert.deepEqual(
      ['alice', 'bob', 'erin'].map((id) => receivesEvent(policy, u(id), about(action))),
      [true, true, false],
      action,
    );
  }
});

test('grantProvisioned_andExpiring_reachOnlyTheOwner', () => {
  for (const action of ['grant.provisioned', 'grant.expiring']) {
    assert.deepEqual(
      ['alice', 'bob', 'erin'].map((id) => receivesEvent(policy, u(id), about(action))),
      [true, false, false],
      action,
    );
  }
});
