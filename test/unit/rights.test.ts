import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePolicy } from '../../server/domain/policy.js';
import {
  allGrantsScope,
  canCheck,
  canRevoke,
  canSeeAllAudit,
  canViewGrant,
  canViewRequest,
  decideRight,
  isOwner,
  canExtend,
  canRelinquish,
  canReadCredentials,
  receivesEvent,
  seesClientOf,
  tallyApprovals,
} from '../../server/domain/rights.js';

const r = parsePolicy(`
users:
  - {id: alice, groups: [dev]}
  - {id: bob, groups: [dba]}
  - {id: carol, roles: [admin]}
  - {id: audrey, roles: [auditor]}
  - {id: svc, roles: [service]}
  - {id: erin, groups: [sre]}
resources:
  - {id: db, roles: [read], maxDuration: 1h, approval: {approvers: [group:dba], required: 1}}
  - {id: k8s, roles: [view], maxDuration: 1h, approval: {approvers: [group:sre]}}
`);
assert.ok(r.ok);
const policy = r.policy;
const u = (id: string) => policy.users.get(id)!;
const onDb = { requesterId: 'alice', resourceId: 'db' };
const grantOnDb = { userId: 'alice', resourceId: 'db' };

test('view_isForTheOwner_theResourcesApprovers_adminsAndAuditors', () => {
  const who = (f: (id: string) => boolean) => ['alice', 'bob', 'carol', 'audrey', 'svc', 'erin'].filter(f);
  assert.deepEqual(
    who((id) => canViewRequest(policy, u(id), onDb)),
    ['alice', 'bob', 'carol', 'audrey'],
  );
  assert.deepEqual(
    who((id) => canViewGrant(policy, u(id), grantOnDb)),
    ['alice', 'bob', 'carol', 'audrey'],
  );
});

test('decide_isForOtherApprovers_theRequesterIsTold_self', () => {
  assert.equal(decideRight(policy, u('bob'), onDb), 'ok');
  assert.equal(decideRight(policy, u('alice'), onDb), 'self');
  assert.equal(decideRight(policy, u('carol'), onDb), 'not_approver', 'admins do not approve unless listed');
  assert.equal(decideRight(policy, u('bob'), { requesterId: 'bob', resourceId: 'db' }), 'self');
});

test('ownerRights_revoke_check_audit_andScopeAll', () => {
  assert.deepEqual([isOwner(u('alice'), grantOnDb), isOwner(u('bob'), grantOnDb)], [true, false]);
  // extend, relinquish and readCredentials are the owner's alone: not the approver's, not even an admin's
  for (const right of [canExtend, canRelinquish, canReadCredentials])
    assert.deepEqual(
      ['alice', 'bob', 'carol'].map((id) => right(u(id), grantOnDb)),
      [true, false, false],
    );
  assert.deepEqual(
    ['alice', 'bob', 'carol', 'audrey'].map((id) => canRevoke(policy, u(id), grantOnDb)),
    [false, true, true, false],
  );
  assert.deepEqual(
    ['svc', 'carol', 'audrey', 'alice'].map((id) => canCheck(u(id))),
    [true, true, false, false],
  );
  assert.deepEqual(
    ['audrey', 'carol', 'bob'].map((id) => canSeeAllAudit(u(id))),
    [true, true, false],
  );
  assert.deepEqual(allGrantsScope(policy, u('carol')), {});
  assert.deepEqual(allGrantsScope(policy, u('bob')), { resourceIds: ['db'] });
  assert.equal(allGrantsScope(policy, u('alice')), null);
});

test('receivesEvent_owner_approversOfRequests_admins', () => {
  const created = { action: 'request.created', actorId: 'alice', resourceId: 'db', subjectId: 'alice' };
  assert.deepEqual(
    ['alice', 'bob', 'carol', 'audrey', 'erin'].map((id) => receivesEvent(policy, u(id), created)),
    [true, true, true, false, false],
  );
  const activated = { action: 'grant.activated', actorId: 'bob', resourceId: 'db', subjectId: 'alice' };
  assert.deepEqual(
    ['alice', 'bob', 'carol', 'audrey', 'erin'].map((id) => receivesEvent(policy, u(id), activated)),
    [true, true, true, false, false],
  );
  const failed = { action: 'grant.revoke_failed', actorId: 'system', resourceId: 'db', subjectId: 'alice' };
  assert.deepEqual(
    ['alice', 'carol'].map((id) => receivesEvent(policy, u(id), failed)),
    [false, true],
  );
});

test('seesClientOf_ownActionsOrAuditors', () => {
  assert.deepEqual(
    ['bob', 'alice', 'audrey'].map((id) => seesClientOf(u(id), { actorId: 'bob' })),
    [true, false, true],
  );
});

test('tallyApprovals_countsOnlyCurrentApprovers_withTheCurrentRequired', () => {
  const approvals = [
    { approverId: 'bob', decision: 'approve' },
    { approverId: 'erin', decision: 'approve' },
    { approverId: 'gone', decision: 'approve' },
    { approverId: 'bob', decision: 'deny' },
  ];
  assert.deepEqual(tallyApprovals(policy, 'db', 3, approvals), { required: 1, counted: ['bob'], notCounted: ['erin', 'gone'] });
  assert.deepEqual(tallyApprovals(policy, 'removed-resource', 3, approvals), { required: 3, counted: [], notCounted: ['bob', 'erin', 'gone'] });
});
