import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  approverIds,
  approverOf,
  canEverBeApproved,
  describeApprovers,
  isApprover,
  loadPolicyFile,
  parsePolicy,
  type PolicyResult,
} from '../../server/domain/policy.js';
import type { Policy } from '../../server/domain/types.js';

// Tests compile to CommonJS (no "type": "module"), so __dirname rather than import.meta.
const demoPath = join(__dirname, '../../server/demo/policy.yaml');

function ok(result: PolicyResult): Policy {
  if (!result.ok) assert.fail(`expected a valid policy, got:\n${result.errors.join('\n')}`);
  return result.policy;
}
function errorsOf(result: PolicyResult): string[] {
  if (result.ok) assert.fail('expected the policy to be refused');
  return result.errors;
}
/** A minimal valid policy with `resourceYaml` as its only resource (indented list item body). */
const withResource = (resourceYaml: string, usersYaml = '  - id: alice\n') =>
  `users:\n${usersYaml}resources:\n  - id: r\n    roles: [read, write]\n    maxDuration: 4h\n${resourceYaml}`;

const contractExample = `
users:
  - id: alice
    name: Alice Liddell
    groups: [developers]
  - id: bob
    groups: [dba]
  - id: carol
    roles: [admin, auditor]
resources:
  - id: prod-db
    name: Production database
    description: Primary PostgreSQL cluster
    roles: [read, write]
    maxDuration: 4h
    defaultDuration: 1h
    requireTicket: false
    pendingTtl: 1h
    approval:
      approvers: [group:dba, user:carol]
      required: 1
      autoApprove:
        - roles: [read]
          maxDuration: 30m
          groups: [oncall]
          window: "Mon-Fri 08:00-18:00 Europe/Berlin"
    extension:
      maxTotal: 8h
      withoutApproval: 30m
    breakGlass: false
    provider: { type: none }
`;

test('parsePolicy_contractExample_isNormalizedToSeconds', () => {
  const policy = ok(parsePolicy(contractExample));
  assert.deepEqual(policy.users.get('carol'), { id: 'carol', name: 'carol', groups: [], roles: ['admin', 'auditor'] });
  assert.deepEqual(policy.users.get('alice'), { id: 'alice', name: 'Alice Liddell', groups: ['developers'], roles: [] });
  const r = policy.resources.get('prod-db')!;
  assert.equal(r.maxDurationSeconds, 4 * 3600);
  assert.equal(r.defaultDurationSeconds, 3600);
  assert.equal(r.pendingTtlSeconds, 3600);
  assert.deepEqual(r.approval.approvers, ['group:dba', 'user:carol']);
  assert.equal(r.approval.autoApprove[0].maxDurationSeconds, 1800);
  assert.deepEqual(r.approval.autoApprove[0].groups, ['oncall']);
  assert.equal(r.approval.autoApprove[0].window?.timeZone, 'Europe/Berlin');
  assert.deepEqual(r.extension, { maxTotalSeconds: 8 * 3600, withoutApprovalSeconds: 1800 });
  assert.deepEqual(r.provider, { type: 'none' });
});

test('parsePolicy_whenOptionalFieldsAreOmitted_appliesTheContractDefaults', () => {
  const policy = ok(parsePolicy('users:\n  - id: alice\nresources:\n  - id: r\n    roles: [read]\n    maxDuration: 3h\n'));
  assert.deepEqual(policy.resources.get('r'), {
    id: 'r',
    name: 'r',
    description: '',
    roles: ['read'],
    maxDurationSeconds: 3 * 3600,
    defaultDurationSeconds: 3600,
    requireTicket: false,
    pendingTtlSeconds: 3600,
    approval: { approvers: ['role:admin'], required: 1, autoApprove: [] },
    extension: { maxTotalSeconds: 6 * 3600, withoutApprovalSeconds: 0 },
    breakGlass: false,
    provider: { type: 'none' },
  });
  assert.equal(policy.notify, undefined);
});

test('parsePolicy_whenMaxDurationUnderAnHour_defaultDurationIsMaxDuration', () => {
  const policy = ok(parsePolicy('users: []\nresources:\n  - id: r\n    roles: [read]\n    maxDuration: 20m\n'));
  assert.equal(policy.resources.get('r')!.defaultDurationSeconds, 1200);
});

test('parsePolicy_acceptsIntegerSecondsForDurations', () => {
  const policy = ok(parsePolicy(withResource('    defaultDuration: 600\n    pendingTtl: "900"\n')));
  assert.equal(policy.resources.get('r')!.defaultDurationSeconds, 600);
  assert.equal(policy.resources.get('r')!.pendingTtlSeconds, 900);
});

test('parsePolicy_providerAndNotify_areKeptAsWritten', () => {
  const policy = ok(
    parsePolicy(
      withResource('    provider: { type: postgres, connection: { env: PG_ADMIN }, roles: { read: app_ro, write: app_rw }, owner: app_owner }\n') +
        'notify:\n  slack: [{ url: "https://example.invalid/hook", events: [break_glass] }]\n',
    ),
  );
  assert.deepEqual(policy.resources.get('r')!.provider, {
    type: 'postgres',
    connection: { env: 'PG_ADMIN' },
    roles: { read: 'app_ro', write: 'app_rw' },
    owner: 'app_owner',
  });
  assert.deepEqual(policy.notify, { slack: [{ url: 'https://example.invalid/hook', events: ['break_glass'] }] });
});

test('parsePolicy_whenProviderHasInlineSecretOrUnknownKey_isRefused', () => {
  const errors = errorsOf(parsePolicy(withResource('    provider: { type: postgres, connection: "postgres://x", roles: { read: ro }, owner: o, dsn: 1 }\n')));
  assert.deepEqual(errors, [
    'resources[0].provider.connection: expected {env: VARIABLE} or {file: PATH}: secrets are never written in the policy itself',
    'resources[0].provider.dsn: unknown key (check the spelling)',
  ]);
});

test('parsePolicy_whenAResourceRoleHasNoPostgresRole_isRefused', () => {
  const errors = errorsOf(
    parsePolicy(
      'users: []\nresources:\n  - id: r\n    roles: [read, write]\n    maxDuration: 1h\n    provider: { type: postgres, connection: { file: /k }, roles: { read: ro }, owner: o }\n',
    ),
  );
  assert.deepEqual(errors, ['resources[0].provider.roles: no PostgreSQL role for the resource\'s role "write"']);
});

test('parsePolicy_whenNotifyHasUnknownEvent_isRefused', () => {
  const errors = errorsOf(parsePolicy(withResource('') + 'notify:\n  slack: [{ url: "https://h.invalid/x", events: [request.maybe] }]\n'));
  assert.deepEqual(errors, ['notify.slack[0].events[0]: must be one of request.created, break_glass, grant.revoke_failed, got "request.maybe"']);
});

test('parsePolicy_acceptsJson', () => {
  const json = JSON.stringify({ users: [{ id: 'alice' }], resources: [{ id: 'r', roles: ['read'], maxDuration: '1h' }] });
  assert.equal(ok(parsePolicy(json)).resources.get('r')!.maxDurationSeconds, 3600);
});

test('parsePolicy_demoPolicy_loadsWithoutErrors', () => {
  const policy = ok(parsePolicy(readFileSync(demoPath, 'utf8')));
  assert.deepEqual([...policy.resources.keys()], ['staging-db', 'prod-db', 'prod-k8s', 'aws-admin', 'incident-breakglass', 'billing-readonly']);
  for (const id of ['alice', 'dave', 'bob', 'erin', 'frank', 'carol', 'audrey', 'checker']) assert.ok(policy.users.has(id), id);
  assert.equal(policy.resources.get('incident-breakglass')!.breakGlass, true);
  assert.equal(policy.resources.get('aws-admin')!.requireTicket, true);
  assert.deepEqual(policy.resources.get('prod-db')!.extension, { maxTotalSeconds: 8 * 3600, withoutApprovalSeconds: 1800 });
  // every resource can be approved for an ordinary developer, including prod-k8s's two approvals
  for (const r of policy.resources.values()) assert.ok(canEverBeApproved(policy, r, 'alice'), r.id);
  assert.ok(canEverBeApproved(policy, policy.resources.get('prod-k8s')!, 'erin'), 'an SRE still finds two other approvers');
});

// ---------- shape errors ----------

test('parsePolicy_whenAKeyIsUnknown_reportsItWithItsPath', () => {
  const errors = errorsOf(
    parsePolicy(
      'version: 2\nusers:\n  - id: alice\n    group: [x]\nresources:\n  - id: r\n    roles: [read]\n    maxDuration: 1h\n    requireTicekt: true\n' +
        '    approval:\n      aprovers: []\n      autoApprove:\n        - roles: [read]\n          maxDuration: 1h\n          windw: x\n    extension: { maxTotl: 1h }\n',
    ),
  );
  assert.deepEqual(errors, [
    'version: unknown key (check the spelling)',
    'users[0].group: unknown key (check the spelling)',
    'resources[0].approval.autoApprove[0].windw: unknown key (check the spelling)',
    'resources[0].approval.aprovers: unknown key (check the spelling)',
    'resources[0].extension.maxTotl: unknown key (check the spelling)',
    'resources[0].requireTicekt: unknown key (check the spelling)',
  ]);
});

test('parsePolicy_whenADurationIsMalformed_reportsTheHintAtItsPath', () => {
  const errors = errorsOf(
    parsePolicy('users: []\nresources:\n  - id: a\n    roles: [read]\n    maxDuration: 1h\n  - id: b\n    roles: [read]\n    maxDuration: 1.5h\n'),
  );
  assert.deepEqual(errors, ['resources[1].maxDuration: expected a duration like "1h30m"']);
});

test('parsePolicy_whenRequiredFieldsAreMissing_saysTheyAreRequired', () => {
  const errors = errorsOf(parsePolicy('users:\n  - name: Nobody\nresources:\n  - id: r\n'));
  assert.deepEqual(errors, ['users[0].id: is required', 'resources[0].roles: is required', 'resources[0].maxDuration: is required']);
});

test('parsePolicy_whenUsersOrResourcesAreMissing_saysSo', () => {
  assert.deepEqual(errorsOf(parsePolicy('users: []\n')), ['resources: is required']);
  assert.deepEqual(errorsOf(parsePolicy('users:\nresources: []\n')), ['users: expected a list, got null']);
});

test('parsePolicy_whenAUserRoleIsUnknown_namesTheAllowedRoles', () => {
  const errors = errorsOf(parsePolicy('users:\n  - id: alice\n    roles: [root]\nresources: []\n'));
  assert.deepEqual(errors, ['users[0].roles[0]: must be one of admin, auditor, service, got "root"']);
});

test('parsePolicy_whenATypeIsWrong_saysWhatWasExpected', () => {
  const errors = errorsOf(parsePolicy(withResource('    breakGlass: "yes"\n    requireTicket: 1\n')));
  assert.deepEqual(errors, ['resources[0].requireTicket: expected true or false, got 1', 'resources[0].breakGlass: expected true or false, got "yes"']);
});

test('parsePolicy_whenProviderTypeIsUnknown_isRefused', () => {
  const errors = errorsOf(parsePolicy(withResource('    provider: { type: mysql }\n')));
  assert.deepEqual(errors, ['resources[0].provider.type: must be one of none, postgres, webhook, command, got "mysql"']);
});

test('parsePolicy_whenIdsAreEmptyOrHaveBadCharacters_isRefused', () => {
  const errors = errorsOf(
    parsePolicy('users:\n  - id: ""\n  - id: "bob smith"\n  - id: ok.name@x_y-1\nresources:\n  - id: "prod/db"\n    roles: [read]\n    maxDuration: 1h\n'),
  );
  const reason = 'must be non-empty and use only letters, digits and . _ @ -';
  assert.deepEqual(errors, [`users[0].id: ${reason}`, `users[1].id: ${reason}`, `resources[0].id: ${reason}`]);
});

test('parsePolicy_whenRolesListIsEmpty_isRefused', () => {
  const errors = errorsOf(parsePolicy('users: []\nresources:\n  - id: r\n    roles: []\n    maxDuration: 1h\n'));
  assert.deepEqual(errors, ['resources[0].roles: must list at least one role']);
});

test('parsePolicy_whenAnAutoApproveRuleHasNoRolesOrEmptyGroups_isRefused', () => {
  const errors = errorsOf(
    parsePolicy(withResource('    approval:\n      autoApprove:\n        - roles: []\n          maxDuration: 1h\n          groups: []\n')),
  );
  assert.deepEqual(errors, [
    'resources[0].approval.autoApprove[0].roles: must list at least one role',
    'resources[0].approval.autoApprove[0].groups: must list at least one group',
  ]);
});

test('parsePolicy_whenAWindowIsInvalid_reportsWhy', () => {
  const errors = errorsOf(
    parsePolicy(
      withResource(
        '    approval:\n      autoApprove:\n        - roles: [read]\n          maxDuration: 1h\n          window: "Mon-Fri 08:00-18:00 Mars/Base"\n' +
          '        - roles: [read]\n          maxDuration: 1h\n          window: "Mon-Fri 8-18 UTC"\n',
      ),
    ),
  );
  assert.equal(errors.length, 3);
  assert.match(errors[0], /^resources\[0\]\.approval\.autoApprove\[0\]\.window: unknown time zone "Mars\/Base"/);
  assert.match(errors[1], /^resources\[0\]\.approval\.autoApprove\[1\]\.window: bad time "8" \(use HH:MM, 24-hour\)/);
  assert.match(errors[2], /^resources\[0\]\.approval\.autoApprove\[1\]\.window: bad time "18" \(use HH:MM, 24-hour\)/);
});

test('parsePolicy_aWindowWithSeveralProblems_listsEveryOne', () => {
  const errors = errorsOf(
    parsePolicy(
      withResource(
        '    approval:\n      autoApprove:\n        - roles: [read]\n          maxDuration: 1h\n          window: "Mon-Fro,Sun-Xyz 25:00-18:99 Europe/Berln"\n',
      ),
    ),
  );
  const at = 'resources[0].approval.autoApprove[0].window: ';
  assert.deepEqual(errors, [
    `${at}unknown day "Fro" (use Mon, Tue, Wed, Thu, Fri, Sat, Sun)`,
    `${at}unknown day "Xyz" (use Mon, Tue, Wed, Thu, Fri, Sat, Sun)`,
    `${at}bad time "25:00" (use HH:MM, 24-hour)`,
    `${at}bad time "18:99" (use HH:MM, 24-hour)`,
    `${at}unknown time zone "Europe/Berln" (use an IANA name like Europe/Berlin or UTC); expected a window like "Mon-Fri 08:00-18:00 Europe/Berlin"`,
  ]);
});

// ---------- cross-field errors ----------

test('parsePolicy_whenUserIdsRepeat_reportsEachDuplicate', () => {
  const errors = errorsOf(parsePolicy('users:\n  - id: alice\n  - id: bob\n  - id: alice\nresources: []\n'));
  assert.deepEqual(errors, ['users[2].id: duplicate id "alice" (first at users[0])']);
});

test('parsePolicy_whenResourceIdsRepeat_reportsEachDuplicate', () => {
  const r = '  - id: r\n    roles: [read]\n    maxDuration: 1h\n';
  const errors = errorsOf(parsePolicy(`users: []\nresources:\n${r}${r}`));
  assert.deepEqual(errors, ['resources[1].id: duplicate id "r" (first at resources[0])']);
});

test('parsePolicy_whenDefaultDurationExceedsMaxDuration_isRefused', () => {
  const errors = errorsOf(parsePolicy(withResource('    defaultDuration: 5h\n')));
  assert.deepEqual(errors, ['resources[0].defaultDuration: 5h exceeds maxDuration 4h']);
});

test('parsePolicy_whenAutoApproveMaxDurationExceedsMaxDuration_isRefused', () => {
  const errors = errorsOf(parsePolicy(withResource('    approval:\n      autoApprove:\n        - roles: [read]\n          maxDuration: 4h1s\n')));
  assert.deepEqual(errors, ["resources[0].approval.autoApprove[0].maxDuration: 4h1s exceeds the resource's maxDuration 4h"]);
});

test('parsePolicy_whenAutoApproveRoleIsNotAResourceRole_isRefused', () => {
  const errors = errorsOf(parsePolicy(withResource('    approval:\n      autoApprove:\n        - roles: [read, admin]\n          maxDuration: 1h\n')));
  assert.deepEqual(errors, [`resources[0].approval.autoApprove[0].roles[1]: "admin" is not one of the resource's roles (read, write)`]);
});

test('parsePolicy_whenExtensionMaxTotalIsShorterThanMaxDuration_isRefused', () => {
  const errors = errorsOf(parsePolicy(withResource('    extension: { maxTotal: 3h }\n')));
  assert.deepEqual(errors, ['resources[0].extension.maxTotal: 3h is shorter than maxDuration 4h']);
});

test('parsePolicy_whenWithoutApprovalExceedsMaxTotal_isRefused', () => {
  assert.deepEqual(errorsOf(parsePolicy(withResource('    extension: { maxTotal: 5h, withoutApproval: 6h }\n'))), [
    'resources[0].extension.withoutApproval: 6h exceeds extension.maxTotal 5h',
  ]);
  // against the default maxTotal (2 x maxDuration) too
  assert.deepEqual(errorsOf(parsePolicy(withResource('    extension: { withoutApproval: 9h }\n'))), [
    'resources[0].extension.withoutApproval: 9h exceeds extension.maxTotal 8h',
  ]);
});

test('parsePolicy_withoutApprovalZero_isAllowed', () => {
  assert.equal(ok(parsePolicy(withResource('    extension: { withoutApproval: 0 }\n'))).resources.get('r')!.extension.withoutApprovalSeconds, 0);
});

test('parsePolicy_whenAnApproverEntryIsMalformed_isRefused', () => {
  const errors = errorsOf(parsePolicy(withResource('    approval:\n      approvers: [dba, "group:", "role:root", "team:x", "group:ok"]\n')));
  const hint = 'expected "group:NAME", "user:ID" or "role:admin|auditor|service"';
  assert.deepEqual(
    errors,
    [0, 1, 2, 3].map((i) => `resources[0].approval.approvers[${i}]: ${hint}`),
  );
});

test('parsePolicy_whenAnApproverNamesAnUnknownUser_isRefused', () => {
  const errors = errorsOf(parsePolicy(withResource('    approval:\n      approvers: [user:alice, user:zed]\n')));
  assert.deepEqual(errors, ['resources[0].approval.approvers[1]: unknown user "zed" (not in users)']);
});

test('parsePolicy_whenRequiredIsBelowOneOrFractional_isRefused', () => {
  assert.deepEqual(errorsOf(parsePolicy(withResource('    approval: { required: 0 }\n'))), ['resources[0].approval.required: must be at least 1']);
  assert.deepEqual(errorsOf(parsePolicy(withResource('    approval: { required: 1.5 }\n'))), ['resources[0].approval.required: expected an integer, got 1.5']);
});

test('parsePolicy_whenAResourceRepeatsARole_isRefused', () => {
  const errors = errorsOf(parsePolicy('users: []\nresources:\n  - id: r\n    roles: [read, read]\n    maxDuration: 1h\n'));
  assert.deepEqual(errors, ['resources[0].roles[1]: duplicate role "read"']);
});

test('parsePolicy_whenAFileHasThreeProblems_reportsAllThree', () => {
  const text = `
users:
  - id: alice
    roles: [superuser]
resources:
  - id: a
    roles: [read]
    maxDuration: forever
  - id: b
    roles: [read]
    maxDuration: 1h
    defaultDuration: 2h
`;
  assert.deepEqual(errorsOf(parsePolicy(text)), [
    'users[0].roles[0]: must be one of admin, auditor, service, got "superuser"',
    'resources[0].maxDuration: expected a duration like "1h30m"',
    'resources[1].defaultDuration: 2h exceeds maxDuration 1h',
  ]);
});

test('parsePolicy_crossFieldChecksStillRun_whenAnotherFieldOfTheResourceIsBroken', () => {
  const errors = errorsOf(parsePolicy(withResource('    defaultDuration: 5h\n    requireTicket: maybe\n')));
  assert.deepEqual(errors, ['resources[0].requireTicket: expected true or false, got "maybe"', 'resources[0].defaultDuration: 5h exceeds maxDuration 4h']);
});

// ---------- YAML and robustness ----------

test('parsePolicy_whenYamlIsMalformed_reportsOneErrorWithLineAndColumn', () => {
  const errors = errorsOf(parsePolicy('users:\n  - id: alice\nresources: [\n  - id: r\n'));
  assert.equal(errors.length, 1);
  assert.match(errors[0], /^line \d+, column \d+: /);
});

test('parsePolicy_whenAYamlKeyRepeats_isRefused', () => {
  const errors = errorsOf(parsePolicy('users: []\nresources: []\nusers: []\n'));
  assert.deepEqual(errors, ['line 3, column 1: Map keys must be unique']);
});

test('parsePolicy_whenEmptyOrNotAMapping_isRefused', () => {
  assert.deepEqual(errorsOf(parsePolicy('')), ['(top level): the policy is empty; expected users and resources']);
  assert.deepEqual(errorsOf(parsePolicy('- a\n- b\n')), ['(top level): expected a mapping, got a list']);
});

test('parsePolicy_neverThrows_onArbitraryTextOrStructures', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.jsonValue().map((v) => JSON.stringify(v)),
      ),
      (text) => {
        const r = parsePolicy(text);
        return r.ok || (r.errors.length > 0 && r.errors.every((e) => typeof e === 'string'));
      },
    ),
    { numRuns: 500 },
  );
  // structures shaped like a policy, with values of the wrong kinds
  const anything = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string()));
  fc.assert(
    fc.property(
      fc.record({
        id: anything,
        roles: anything,
        maxDuration: anything,
        approval: fc.record({ approvers: anything, required: anything, autoApprove: anything }),
        extension: fc.record({ maxTotal: anything, withoutApproval: anything }),
      }),
      (resource) => {
        const r = parsePolicy(JSON.stringify({ users: [{ id: 'a' }], resources: [resource] }));
        return r.ok || r.errors.length > 0;
      },
    ),
    { numRuns: 500 },
  );
});

test('loadPolicyFile_prefixesEveryErrorWithThePath', () => {
  const dir = mkdtempSync(join(tmpdir(), 'elevate-policy-'));
  try {
    const bad = join(dir, 'elevate.yaml');
    writeFileSync(bad, 'users: []\nresources:\n  - id: a\n    roles: [read]\n    maxDuration: 1h\n  - id: b\n    roles: [read]\n    maxDuration: x\n');
    assert.deepEqual(errorsOf(loadPolicyFile(bad)), [`${bad}: resources[1].maxDuration: expected a duration like "1h30m"`]);
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'users: []\nresources: []\n');
    assert.equal(ok(loadPolicyFile(good)).resources.size, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loadPolicyFile_whenTheFileIsMissingOrADirectory_returnsAnErrorInsteadOfThrowing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'elevate-policy-'));
  try {
    const missing = join(dir, 'nope.yaml');
    assert.deepEqual(errorsOf(loadPolicyFile(missing)), [`${missing}: cannot read the policy file: no such file`]);
    const [err] = errorsOf(loadPolicyFile(dir));
    assert.ok(err.startsWith(`${dir}: cannot read the policy file: `), err);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------- approvers ----------

const team = ok(
  parsePolicy(`
users:
  - id: alice
    groups: [developers]
  - id: bob
    groups: [dba]
  - id: bea
    groups: [dba, developers]
  - id: carol
    roles: [admin]
resources:
  - id: prod-db
    roles: [read]
    maxDuration: 1h
    approval: { approvers: [group:dba, user:carol] }
  - id: two-keys
    roles: [read]
    maxDuration: 1h
    approval: { approvers: [group:dba], required: 2 }
  - id: default
    roles: [read]
    maxDuration: 1h
`),
);
const res = (id: string) => team.resources.get(id)!;

test('approverIds_expandsGroupsUsersAndRoles_inPolicyOrder', () => {
  assert.deepEqual(approverIds(team, res('prod-db')), ['bob', 'bea', 'carol']);
  assert.deepEqual(approverIds(team, res('default')), ['carol']);
});

test('isApprover_onlyForConfiguredApprovers', () => {
  assert.equal(isApprover(team, 'bob', res('prod-db')), true);
  assert.equal(isApprover(team, 'carol', res('prod-db')), true);
  assert.equal(isApprover(team, 'alice', res('prod-db')), false);
  assert.equal(isApprover(team, 'carol', res('two-keys')), false);
  assert.equal(isApprover(team, 'nobody', res('prod-db')), false);
});

test('approverOf_listsTheResourcesAUserMayApprove', () => {
  assert.deepEqual(approverOf(team, 'bob'), ['prod-db', 'two-keys']);
  assert.deepEqual(approverOf(team, 'carol'), ['prod-db', 'default']);
  assert.deepEqual(approverOf(team, 'alice'), []);
});

test('canEverBeApproved_neverCountsTheRequester', () => {
  assert.equal(canEverBeApproved(team, res('two-keys'), 'alice'), true);
  assert.equal(canEverBeApproved(team, res('two-keys'), 'bob'), false, 'only bea would be left');
  assert.equal(canEverBeApproved(team, res('default'), 'carol'), false, 'the only admin cannot approve herself');
  assert.equal(canEverBeApproved(team, res('prod-db'), 'carol'), true);
});

test('describeApprovers_namesGroupsUsersAndRoles', () => {
  assert.equal(describeApprovers(res('two-keys')), 'dba');
  assert.equal(describeApprovers(res('prod-db')), 'dba or carol');
  assert.equal(describeApprovers(res('default')), 'admin');
  assert.equal(
    describeApprovers({ ...res('prod-db'), approval: { ...res('prod-db').approval, approvers: ['group:a', 'user:b', 'role:admin'] } }),
    'a, b or admin',
  );
});

test('parsePolicy_commandProviderEnv_acceptsVariableNames_refusesOthersAndElevateVariables', () => {
  ok(parsePolicy(withResource('    provider: { type: command, command: [/bin/true], env: [AWS_PROFILE, _X1] }\n')));
  const errors = errorsOf(parsePolicy(withResource('    provider: { type: command, command: [/bin/true], env: ["A B", ELEVATE_DB] }\n')));
  assert.deepEqual(errors, [
    'resources[0].provider.env[0]: must be an environment variable name like AWS_PROFILE',
    'resources[0].provider.env[1]: ELEVATE_* variables are set by Elevate for each event and cannot be passed through',
  ]);
});
