// The identity: section of the policy and the pure decisions about who an ID token makes someone
// (server/identity/config.ts, server/identity/users.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicy, approverIds } from '../../server/domain/policy.js';
import type { Policy } from '../../server/domain/types.js';
import type { IdpUser } from '../../server/store/types.js';
import { mappedRoles, userFromClaims, withIdpUsers } from '../../server/identity/users.js';

const base = `
users:
  - id: svc
    roles: [service]
  - id: olga
    name: Olga Override
    groups: [dba]
resources:
  - id: prod-db
    roles: [read]
    maxDuration: 1h
    approval: { approvers: [group:dba] }
`;

const withIdentity = (identity: string) => `${base}identity:\n${identity}`;

const OIDC = `  oidc:
    issuer: https://login.example.com/realms/eng
    clientId: elevate
    clientSecret: { env: ELEVATE_OIDC_SECRET }
    allowedGroups: [engineering]
    roles: { admin: [group:elevate-admins], auditor: [group:security, user:audrey] }
  sessionTtl: 8h
`;

function policy(text: string): Policy {
  const r = parsePolicy(text);
  if (!r.ok) assert.fail(r.errors.join('\n'));
  return r.policy;
}
function errors(text: string): string[] {
  const r = parsePolicy(text);
  if (r.ok) assert.fail('expected the policy to be refused');
  return r.errors;
}

const claims = (o: Record<string, unknown> = {}) => ({
  iss: 'https://login.example.com/realms/eng',
  sub: 'sub-1',
  preferred_username: 'alice',
  name: 'Alice',
  groups: ['engineering'],
  ...o,
});
const oidcOf = (p: Policy) => p.identity.oidc ?? assert.fail('no identity.oidc');

test('identity_absent_meansTokensOnly_withTheDefaultSessionTtl', () => {
  const p = policy(base);
  assert.equal(p.identity.oidc, undefined);
  assert.equal(p.identity.sessionTtlSeconds, 12 * 3600);
});

test('identity_withDefaults_fillsScopesAndClaims', () => {
  const p = policy(withIdentity(OIDC));
  const o = oidcOf(p);
  assert.deepEqual(o.scopes, ['openid', 'profile', 'email']);
  assert.equal(o.usernameClaim, 'preferred_username');
  assert.equal(o.groupsClaim, 'groups');
  assert.deepEqual(o.clientSecret, { env: 'ELEVATE_OIDC_SECRET' });
  assert.equal(p.identity.sessionTtlSeconds, 8 * 3600);
});

test('identity_withAnInlineSecret_httpIssuer_unknownKey_orNoOpenidScope_isRefusedWithPaths', () => {
  const e = errors(
    withIdentity(`  oidc:
    issuer: http://login.example.com
    clientId: elevate
    clientSecret: hunter2
    scopes: [profile]
    usernameClam: sub
  sessionTtl: 90d
`),
  );
  assert.ok(
    e.some((x) => x.startsWith('identity.oidc.issuer: expected an https:// URL')),
    e.join('\n'),
  );
  assert.ok(
    e.some((x) => x.startsWith('identity.oidc.clientSecret: expected {env: VARIABLE} or {file: PATH}')),
    e.join('\n'),
  );
  assert.ok(e.includes('identity.oidc.scopes: must include "openid"'), e.join('\n'));
  assert.ok(e.includes('identity.oidc.usernameClam: unknown key (check the spelling)'), e.join('\n'));
  assert.ok(e.includes('identity.sessionTtl: must be at most 30d'), e.join('\n'));
});

test('identity_aLoopbackHttpIssuer_isAllowed (a test or demo IdP on this machine)', () => {
  const p = policy(withIdentity('  oidc:\n    issuer: http://127.0.0.1:9999\n    clientId: elevate\n'));
  assert.equal(oidcOf(p).issuer, 'http://127.0.0.1:9999');
});

test('claims_giveTheUserIdGroupsAndMappedRoles', () => {
  const p = policy(withIdentity(OIDC));
  const r = userFromClaims(claims({ groups: ['engineering', 'elevate-admins'] }), oidcOf(p), p);
  assert.ok(r.ok);
  assert.deepEqual(r.user, {
    id: 'alice',
    name: 'Alice',
    email: null,
    issuer: 'https://login.example.com/realms/eng',
    subject: 'sub-1',
    groups: ['engineering', 'elevate-admins'],
    roles: ['admin'],
  });
});

test('roles_mapByGroupOrByUser', () => {
  const o = oidcOf(policy(withIdentity(OIDC)));
  assert.deepEqual(mappedRoles(o, 'x', ['security']), ['auditor']);
  assert.deepEqual(mappedRoles(o, 'audrey', []), ['auditor']);
  assert.deepEqual(mappedRoles(o, 'x', ['engineering']), []);
});

test('keycloakGroupPaths_matchByTheirLastSegmentToo', () => {
  const p = policy(withIdentity(OIDC));
  const r = userFromClaims(claims({ groups: ['/engineering', '/org/elevate-admins'] }), oidcOf(p), p);
  assert.ok(r.ok);
  assert.deepEqual(r.user.roles, ['admin']);
});

test('allowedGroups_refuseSomeoneInNoneOfThem_butNotSomeoneListedUnderUsers', () => {
  const p = policy(withIdentity(OIDC));
  const refused = userFromClaims(claims({ groups: ['marketing'] }), oidcOf(p), p);
  assert.deepEqual(refused, { ok: false, reason: 'alice is in none of the groups allowed to sign in (engineering)' });
  const listed = userFromClaims(claims({ preferred_username: 'olga', groups: [] }), oidcOf(p), p);
  assert.ok(listed.ok);
});

test('aUsernameElevateCannotUse_isRefusedWithTheReason', () => {
  const p = policy(withIdentity(OIDC));
  const o = oidcOf(p);
  assert.match((userFromClaims(claims({ preferred_username: undefined }), o, p) as { reason: string }).reason, /no "preferred_username" claim/);
  assert.match((userFromClaims(claims({ preferred_username: 'a b' }), o, p) as { reason: string }).reason, /characters Elevate does not allow/);
  assert.match((userFromClaims(claims({ preferred_username: 'system' }), o, p) as { reason: string }).reason, /reserved/);
});

const idp = (o: Partial<IdpUser> & { id: string }): IdpUser => ({
  issuer: 'i',
  subject: o.id,
  name: o.id,
  email: null,
  groups: [],
  roles: [],
  lastSignInAt: 1,
  disabledAt: null,
  ...o,
});

test('effectivePolicy_addsIdpUsers_asApproversOfTheirGroups', () => {
  const p = policy(withIdentity(OIDC));
  const e = withIdpUsers(p, [idp({ id: 'bob', groups: ['engineering', 'dba'] }), idp({ id: 'carol', groups: ['elevate-admins'] })]);
  assert.deepEqual(approverIds(e, e.resources.get('prod-db')!), ['olga', 'bob']);
  assert.deepEqual(e.users.get('carol')?.roles, ['admin']);
});

test('effectivePolicy_mapsRolesWithThePolicyAsItIsNow (a changed roles: mapping applies at the reload)', () => {
  const carol = idp({ id: 'carol', groups: ['elevate-admins'], roles: ['admin'] });
  const p = policy(withIdentity(OIDC.replace('admin: [group:elevate-admins]', 'admin: [group:someone-else]')));
  assert.deepEqual(withIdpUsers(p, [carol]).users.get('carol')?.roles, []);
});

test('effectivePolicy_aListedUserKeepsTheFileAndGainsTheIdpGroups', () => {
  const p = policy(withIdentity(OIDC));
  const e = withIdpUsers(p, [idp({ id: 'olga', name: 'Olga from the IdP', groups: ['engineering', 'security'] })]);
  assert.deepEqual(e.users.get('olga'), { id: 'olga', name: 'Olga Override', groups: ['dba', 'engineering', 'security'], roles: ['auditor'] });
});

test('effectivePolicy_leavesOutDisabledUsers_andEveryIdpUserWithoutIdentityOidc', () => {
  const p = policy(withIdentity(OIDC));
  const e = withIdpUsers(p, [idp({ id: 'bob', disabledAt: 5 }), idp({ id: 'never', lastSignInAt: null })]);
  assert.equal(e.users.has('bob'), false);
  assert.equal(e.users.has('never'), false);
  const noOidc = policy(base);
  assert.equal(withIdpUsers(noOidc, [idp({ id: 'bob' })]), noOidc);
});
