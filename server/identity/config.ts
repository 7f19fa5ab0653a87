// The policy's `identity:` section: who people are comes from the company's OpenID Connect
// provider. Pure (zod only): the policy loader refuses a bad section at start, like every other.
import { z } from 'zod';
import { parseDuration } from '../domain/duration.js';
import { userRoles } from '../protocol/index.js';
import { SecretRef } from '../providers/config.js';

export const DEFAULT_SESSION_TTL_SECONDS = 12 * 3600;
/** A session longer than this is a long-lived token again, which is what SSO is meant to end. */
export const MAX_SESSION_TTL_SECONDS = 30 * 86400;

const isLoopbackHost = (h: string) => h === 'localhost' || h === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(h);

/** https, or http on a loopback address only (a test or demo IdP on this machine). */
const IssuerUrl = z.string().refine((s) => {
  if (!URL.canParse(s)) return false;
  const u = new URL(s);
  return u.protocol === 'https:' || (u.protocol === 'http:' && isLoopbackHost(u.hostname));
}, 'expected an https:// URL of the OpenID provider (http:// only on a loopback address), e.g. https://login.example.com/realms/eng');

const Claim = z.string().min(1, 'must not be empty').max(200);
const GroupName = z.string().min(1, 'must not be empty').max(200);
/** who gets a role from the IdP: "group:NAME" (an IdP group) or "user:ID" */
const RoleMember = z.string().regex(/^(group|user):.+$/, 'expected "group:NAME" or "user:ID"');

const Duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  try {
    return parseDuration(v);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: e instanceof Error ? e.message : 'expected a duration like "12h"' });
    return z.NEVER;
  }
});

export const OidcConfig = z.strictObject({
  issuer: IssuerUrl,
  clientId: z.string().min(1, 'must not be empty').max(500),
  // optional: a public client (PKCE alone) is allowed; when given, never inline
  clientSecret: SecretRef.optional(),
  scopes: z
    .array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'expected a scope name without spaces'))
    .refine((s) => s.includes('openid'), 'must include "openid"')
    .default(['openid', 'profile', 'email']),
  usernameClaim: Claim.default('preferred_username'),
  groupsClaim: Claim.default('groups'),
  allowedGroups: z.array(GroupName).min(1, 'must list at least one group (leave the key out to allow everyone)').optional(),
  roles: z.partialRecord(z.enum(userRoles), z.array(RoleMember)).default({}),
});

export const IdentityConfig = z.strictObject({
  oidc: OidcConfig.optional(),
  sessionTtl: Duration.optional().refine((s) => s === undefined || s <= MAX_SESSION_TTL_SECONDS, `must be at most ${MAX_SESSION_TTL_SECONDS / 86400}d`),
});

export type OidcSettings = z.output<typeof OidcConfig>;

/** The normalized section the server works with. */
export interface IdentitySettings {
  oidc?: OidcSettings;
  sessionTtlSeconds: number;
}

export function toIdentitySettings(raw: z.output<typeof IdentityConfig> | undefined): IdentitySettings {
  return {
    ...(raw?.oidc && { oidc: raw.oidc }),
    sessionTtlSeconds: raw?.sessionTtl ?? DEFAULT_SESSION_TTL_SECONDS,
  };
}
