// Who an ID token says someone is, as an Elevate user: pure decisions, no I/O.
//  - userFromClaims: the user id, name, groups and roles from verified claims, or why they may
//    not sign in (allowedGroups, a user id Elevate cannot use).
//  - withIdpUsers: the policy the engine works with: the file's users, plus everyone the IdP has
//    vouched for (groups from their last sign-in), so approvers named group:X include them.
import { RESERVED_USER_IDS } from '../domain/policy.js';
import type { Policy, PolicyUser, UserRole } from '../domain/types.js';
import { userRoles } from '../protocol/index.js';
import type { OidcSettings } from './config.js';
import type { IdpUser } from '../store/types.js';

/** The same ids the policy file accepts for users. */
const USER_ID = /^[A-Za-z0-9._@-]{1,200}$/;
const MAX_GROUPS = 500;

export interface SignedInUser {
  id: string;
  name: string;
  email: string | null;
  issuer: string;
  subject: string;
  /** the IdP's groups, as they are now */
  groups: string[];
  /** roles the policy's identity.oidc.roles maps those groups (or this user) to */
  roles: UserRole[];
}

export type ClaimsDecision = { ok: true; user: SignedInUser } | { ok: false; reason: string };

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

/** A groups claim: a list of names (Keycloak, Okta, Dex, Entra ID) or one name; anything else is none. */
function groupsOf(v: unknown): string[] {
  const list = Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
  const names = list.filter((g): g is string => typeof g === 'string' && g.length > 0 && g.length <= 200);
  // Keycloak writes group paths ("/engineering") when "full group path" is on: match by name too
  const withNames = names.flatMap((g) => (g.startsWith('/') && g.length > 1 ? [g, g.slice(g.lastIndexOf('/') + 1)] : [g]));
  return [...new Set(withNames)].slice(0, MAX_GROUPS);
}

export function mappedRoles(oidc: OidcSettings, userId: string, groups: readonly string[]): UserRole[] {
  return userRoles.filter((role) => (oidc.roles[role] ?? []).some((m) => (m.startsWith('group:') ? groups.includes(m.slice(6)) : m === `user:${userId}`)));
}

export function userFromClaims(claims: Readonly<Record<string, unknown>>, oidc: OidcSettings, policy: Policy): ClaimsDecision {
  const subject = str(claims.sub);
  const issuer = str(claims.iss);
  if (!subject || !issuer) return { ok: false, reason: 'the ID token has no subject or issuer' };
  const id = str(claims[oidc.usernameClaim]);
  if (!id) return { ok: false, reason: `the ID token has no "${oidc.usernameClaim}" claim (identity.oidc.usernameClaim) to use as the user id` };
  if (!USER_ID.test(id))
    return { ok: false, reason: `the user id "${id.slice(0, 80)}" from "${oidc.usernameClaim}" uses characters Elevate does not allow in user ids` };
  if ((RESERVED_USER_IDS as readonly string[]).includes(id)) return { ok: false, reason: `the user id "${id}" is reserved for the server's own audit entries` };
  const groups = groupsOf(claims[oidc.groupsClaim]);
  // people listed under users: (service accounts, overrides) may sign in whatever their groups
  if (oidc.allowedGroups && !policy.users.has(id) && !oidc.allowedGroups.some((g) => groups.includes(g))) {
    return { ok: false, reason: `${id} is in none of the groups allowed to sign in (${oidc.allowedGroups.join(', ')})` };
  }
  return {
    ok: true,
    user: { id, name: str(claims.name) ?? id, email: str(claims.email) ?? null, issuer, subject, groups, roles: mappedRoles(oidc, id, groups) },
  };
}

const union = <T>(a: readonly T[], b: readonly T[]): T[] => [...new Set([...a, ...b])];

/**
 * The policy with the users the IdP vouched for. A user listed under `users:` keeps what the
 * file says and gains the IdP's groups and mapped roles; one listed only by the IdP is as their
 * last sign-in made them. Disabled users and, without identity.oidc, every IdP user are left out
 * (so a reconcile ends what they held). Returns the same object when nothing is added.
 */
export function withIdpUsers(policy: Policy, idpUsers: readonly IdpUser[]): Policy {
  const oidc = policy.identity.oidc;
  if (!oidc) return policy;
  const seen = idpUsers.filter((u) => u.disabledAt === null && u.lastSignInAt !== null);
  if (seen.length === 0) return policy;
  const users = new Map<string, PolicyUser>(policy.users);
  for (const u of seen) {
    // mapped with the policy as it is now: a changed roles: mapping applies at the reload
    const roles = mappedRoles(oidc, u.id, u.groups);
    const listed = policy.users.get(u.id);
    users.set(
      u.id,
      listed ? { ...listed, groups: union(listed.groups, u.groups), roles: union(listed.roles, roles) } : { id: u.id, name: u.name, groups: u.groups, roles },
    );
  }
  return { ...policy, users };
}
