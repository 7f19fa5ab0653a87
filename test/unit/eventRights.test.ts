// Who hears of what on the live stream (domain/rights.ts), for issue 16: approvers hear when access
// they let through could not be set up, and nobody else does.
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
  assert.deepEqual(['alice', 'bob', 'erin'].map((id) => receivesEvent(policy, u(id), about('grant.failed'))), [true, true, false]);
});

test('grantProvisioned_andTheOtherGrantEvents_reachOnlyTheOwner', () => {
  for (const action of ['grant.provisioned', 'grant.activated', 'grant.expired', 'grant.revoked']) {
    assert.deepEqual(['alice', 'bob', 'erin'].map((id) => receivesEvent(policy, u(id), about(action))), [true, false, false], action);
  }
});
