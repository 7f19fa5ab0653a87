// Policy keys of each provider type, as zod schemas. Pure (zod only): the policy loader uses
// them to refuse a bad file at start, and each provider parses its config with the same schema
// when it runs (the config travels in the outbox row exactly as the policy wrote it).
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseDuration } from '../domain/duration.js';
import type { ProviderConfig } from '../domain/types.js';

export const providerTypes = ['none', 'postgres', 'webhook', 'command'] as const;

const SECRET_HINT = 'expected {env: VARIABLE} or {file: PATH}: secrets are never written in the policy itself';

/**
 * Where a secret lives: an environment variable or a file, read when it is needed (so it can be
 * rotated without a reload). A plain string is refused, so a connection string or signing key
 * never sits in the policy file.
 */
export const SecretRef = z.unknown().transform((v, ctx): { env: string } | { file: string } => {
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const keys = Object.keys(v);
    const o = v as Record<string, unknown>;
    if (keys.length === 1 && typeof o.env === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(o.env)) return { env: o.env };
    if (keys.length === 1 && typeof o.file === 'string' && o.file.length > 0) return { file: o.file };
  }
  ctx.addIssue({ code: 'custom', message: v === undefined ? 'is required' : SECRET_HINT });
  return z.NEVER;
});
export type SecretRef = z.output<typeof SecretRef>;

/** Reads a secret; the error names where it looked, never the value. */
export function readSecret(ref: SecretRef): string {
  if ('env' in ref) {
    const v = process.env[ref.env];
    if (v === undefined || v === '') throw new Error(`environment variable ${ref.env} is not set`);
    return v;
  }
  try {
    return readFileSync(ref.file, 'utf8').trim();
  } catch (e) {
    throw new Error(`cannot read secret file ${ref.file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

const Seconds = z.union([z.string(), z.number()]).transform((v, ctx) => {
  try {
    return parseDuration(v);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: e instanceof Error ? e.message : 'expected a duration' });
    return z.NEVER;
  }
});

/** A PostgreSQL role name as written in the policy (it is quoted when used, never spliced). */
const PgName = z.string().min(1).max(63, 'must be at most 63 bytes (PostgreSQL truncates longer names)');

const isHttpUrl = (s: string) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol);

/** An http(s) URL written in the policy, or (when it embeds a token, as Slack's do) {env|file}. */
export const UrlOrSecret = z.unknown().transform((v, ctx): string | SecretRef => {
  if (typeof v === 'string') {
    if (isHttpUrl(v)) return v;
    ctx.addIssue({ code: 'custom', message: 'expected an http:// or https:// URL, or {env: VARIABLE} / {file: PATH}' });
    return z.NEVER;
  }
  const r = SecretRef.safeParse(v);
  if (r.success) return r.data;
  ctx.addIssue({ code: 'custom', message: v === undefined ? 'is required' : 'expected an http:// or https:// URL, or {env: VARIABLE} / {file: PATH}' });
  return z.NEVER;
});

/** The URL itself, reading it from its env/file when it is kept there. */
export function resolveUrl(u: string | SecretRef): string {
  const s = typeof u === 'string' ? u : readSecret(u);
  if (!isHttpUrl(s)) throw new Error('configured URL is not an http(s) URL');
  return s;
}

export const PostgresConfig = z.strictObject({
  type: z.literal('postgres'),
  /** admin connection string (postgres://…), with rights to create roles */
  connection: SecretRef,
  /** requested role → PostgreSQL role the grant's login becomes a member of */
  roles: z.record(z.string(), PgName),
  /** role that receives the objects the grant's login created (REASSIGN OWNED) */
  owner: PgName,
  /** database handed out in the credentials and cleaned with DROP OWNED (default: the connection's) */
  database: PgName.optional(),
  /** further databases in which the login may own objects, also cleaned on revoke */
  databases: z.array(PgName).optional(),
  /** host and port written into the credentials (default: the connection's) */
  host: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  /** prefix of the per-grant login role (default elevate_) */
  rolePrefix: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,20}$/, 'lowercase letters, digits and _, at most 21')
    .optional(),
  timeout: Seconds.optional(),
});
export type PostgresConfig = z.output<typeof PostgresConfig>;

export const WebhookConfig = z.strictObject({
  type: z.literal('webhook'),
  /** where grant/extend/revoke events are POSTed; a URL with a token in it can come from {env|file} */
  url: UrlOrSecret,
  /** HMAC-SHA256 signing key */
  secret: SecretRef,
  timeout: Seconds.optional(),
});
export type WebhookConfig = z.output<typeof WebhookConfig>;

export const CommandConfig = z.strictObject({
  type: z.literal('command'),
  /** [executable, ...arguments]; run without a shell */
  command: z.array(z.string().min(1)).min(1, 'must name the executable'),
  timeout: Seconds.optional(),
  /**
   * names of the server's environment variables the command may see, e.g. [AWS_PROFILE];
   * nothing else of the server's environment reaches it (it may hold database URLs and keys)
   */
  env: z
    .array(
      z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name like AWS_PROFILE')
        .refine((n) => !n.startsWith('ELEVATE_'), 'ELEVATE_* variables are set by Elevate for each event and cannot be passed through'),
    )
    .default([]),
});
export type CommandConfig = z.output<typeof CommandConfig>;

export const NoneConfig = z.strictObject({ type: z.literal('none') });

export const providerSchemas = {
  none: NoneConfig,
  postgres: PostgresConfig,
  webhook: WebhookConfig,
  command: CommandConfig,
} as const;

/** Cross-field rule: every role of the resource must map to a PostgreSQL role. */
export function providerRoleProblems(provider: unknown, resourceRoles: readonly string[]): { path: string; message: string }[] {
  const p = PostgresConfig.safeParse(provider);
  if (!p.success) return [];
  return resourceRoles
    .filter((r) => !(r in p.data.roles))
    .map((r) => ({ path: 'provider.roles', message: `no PostgreSQL role for the resource's role "${r}"` }));
}

/** A provider's parsed config; throws with the first problem (the policy was validated at load). */
export function parseProviderConfig<T extends z.ZodType>(schema: T, config: ProviderConfig): z.output<T> {
  const r = schema.safeParse(config);
  if (!r.success) throw new Error(`invalid ${config.type} provider config: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}
