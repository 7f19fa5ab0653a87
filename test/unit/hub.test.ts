// Who the live-event hub tells what (pure: no server). Issue 16: approvers hear when access they
// let through could not be set up, and nobody else does.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePolicy } from '../../server/domain/policy.js';
import { EventHub } from '../../server/engine/hub.js';

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
const hub = new EventHub(() => policy);
const event = (action: string) => ({
  event: { seq: 1, at: '2026-12-06T07:00:00.000Z', actorId: 'system', action, resourceId: 'prod-db', grantId: 'g1', details: {}, prevHash: '', hash: '' },
  subjectId: 'alice',
});
const who = (userId: string) => ({ userId, admin: false });

test('grantFailed_reachesTheOwnerAndTheResourcesApprovers_andNobodyElse', () => {
  assert.equal(hub.concerns(who('alice'), event('grant.failed')), true);
  assert.equal(hub.concerns(who('bob'), event('grant.failed')), true);
  assert.equal(hub.concerns(who('erin'), event('grant.failed')), false);
});

test('grantProvisioned_andOtherGrantEvents_reachOnlyTheOwner', () => {
  for (const action of ['grant.provisioned', 'grant.activated', 'grant.expired', 'grant.revoked']) {
    assert.equal(hub.concerns(who('alice'), event(action)), true, action);
    assert.equal(hub.concerns(who('bob'), event(action)), false, action);
  }
});
