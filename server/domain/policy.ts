// The policy file: YAML (or JSON) → validated, defaulted, normalized Policy.
//
// Validation is deliberately strict: unknown keys are errors, because a typo in a security policy
// ("requireTicekt: true") must not silently turn a control off. Every problem is reported at
// once, each as "path: reason", so an operator fixes the file in one pass.
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { userRoles } from '../protocol/index.js';
import { formatDuration, parseDuration, parseDurationOrZero } from './duration.js';
import type { AutoApproveRule, Policy, PolicyUser, ProviderConfig, Resource } from './types.js';
import { checkWindow } from './window.js';
import { parseCidr } from './network.js';
import { providerRoleProblems, providerSchemas, providerTypes } from '../providers/config.js';
import { NotifyConfig } from '../notify/config.js';
import { IdentityConfig, toIdentitySettings } from '../identity/config.js';

export type PolicyResult = { ok: true; policy: Policy } | { ok: false; errors: string[] };

const DEFAULT_PENDING_TTL = 3600;
const DEFAULT_DURATION_CAP = 3600;
const DURATION_HINT = 'expected a duration like "1h30m"';
const APPROVER_HINT = `expected "group:NAME", "user:ID" or "role:${userRoles.join('|')}"`;

// ---------- field schemas ----------

const Id = z
  .string()
  .max(200, 'must be at most 200 characters')
  .regex(/^[A-Za-z0-9._@-]+$/, 'must be non-empty and use only letters, digits and . _ @ -');

const durationField = (parse: (v: string | number) => number) =>
  z.union([z.string(), z.number()], { error: (iss) => (iss.input === undefined ? 'is required' : DURATION_HINT) }).transform((v, ctx) => {
    try {
      return parse(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: e instanceof Error ? e.message : DURATION_HINT });
      return z.NEVER;
    }
  });

const Duration = durationField(parseDuration);
/** zero allowed: for extension.withoutApproval, where 0 means "every extension needs approval" */
const DurationOrZero = durationField(parseDurationOrZero);

// every problem of the window string is its own line in check-config
const Window = z.string().transform((s, ctx) => {
  const r = checkWindow(s);
  if (r.ok) return r.window;
  for (const message of r.problems) ctx.addIssue({ code: 'custom', message });
  return z.NEVER;
});

/** "group:dba", "user:carol", "role:admin"; whether user:X names a known user is a cross-field check */
const Approver = z.string().refine((s) => {
  const m = /^(group|user|role):(.*)$/.exec(s);
  if (!m) return false;
  if (m[1] === 'role') return (userRoles as readonly string[]).includes(m[2]);
  return Id.safeParse(m[2]).success;
}, APPROVER_HINT);

/** "10.0.0.0/8", "192.0.2.7", "fd00::/8": an address or a network, IPv4 or IPv6. */
const Cidr = z.string().refine((s) => parseCidr(s) !== null, 'expected an IP address or a CIDR like "10.0.0.0/8" or "fd00::/8"');

const nonEmptyList = <T extends z.ZodType>(item: T, what: string) => z.array(item).min(1, `must list at least one ${what}`);

/** Actor ids the server itself writes into the audit log; a user must not be able to take them. */
export const RESERVED_USER_IDS = ['system', 'anonymous', 'cli'] as const;

export const UserSchema = z.strictObject({
  id: Id.refine((v) => !(RESERVED_USER_IDS as readonly string[]).includes(v), {
    message: `is reserved for the server's own audit entries (${RESERVED_USER_IDS.join(', ')})`,
  }),
  name: z.string().min(1, 'must not be empty').max(200).optional(),
  groups: z.array(Id).optional(),
  roles: z.array(z.enum(userRoles)).optional(),
});

const AutoApproveSchema = z.strictObject({
  roles: nonEmptyList(Id, 'role'),
  maxDuration: Duration,
  groups: nonEmptyList(Id, 'group').optional(),
  window: Window.optional(),
});

// ---------- hints (issue 15): where a resource lives, for the editor's matching only ----------

const hintList = <T extends z.ZodType>(item: T) =>
  z.array(item).min(1, 'must list at least one entry (or leave the key out)').max(100, 'must list at most 100 entries');
const HintName = z.string().min(1, 'must not be empty').max(253, 'must be at most 253 characters');
/** a host name or address, or "*.suffix" for every host under suffix */
const HintHost = HintName.regex(/^(\*\.)?[A-Za-z0-9_.:-]+$/, 'expected a host name like "db.prod.internal", "*.prod.internal" or an IP address');
const HintUrl = HintName.refine((s) => {
  const star = s.indexOf('*');
  if (star !== -1 && star !== s.length - 1) return false;
  try {
    return /^https?:$/.test(new URL(s.replace(/\*$/, '')).protocol);
  } catch {
    return false;
  }
}, 'expected an http(s) URL, optionally ending in "*" (e.g. "https://admin.example.com/*")');

const HintsSchema = z.strictObject({
  hosts: hintList(HintHost).optional(),
  databases: hintList(HintName).optional(),
  kubeContexts: hintList(HintName).optional(),
  awsAccounts: hintList(
    z
      .string({ error: 'expected a 12-digit AWS account id in quotes (e.g. "123456789012")' })
      .regex(/^\d{12}$/, 'expected a 12-digit AWS account id, quoted (e.g. "123456789012")'),
  ).optional(),
  urls: hintList(HintUrl).optional(),
});

export const ResourceSchema = z.strictObject({
  id: Id,
  name: z.string().min(1, 'must not be empty').max(200).optional(),
  description: z.string().max(2000).optional(),
  roles: nonEmptyList(Id, 'role'),
  maxDuration: Duration,
  defaultDuration: Duration.optional(),
  requireTicket: z.boolean().optional(),
  pendingTtl: Duration.optional(),
  approval: z
    .strictObject({
      approvers: z.array(Approver).optional(),
      required: z.number().int().min(1, 'must be at least 1').optional(),
      autoApprove: z.array(AutoApproveSchema).optional(),
    })
    .optional(),
  extension: z
    .strictObject({
      maxTotal: Duration.optional(),
      withoutApproval: DurationOrZero.optional(),
    })
    .optional(),
  breakGlass: z.boolean().optional(),
  hints: HintsSchema.optional(),
  // Each provider type has its own keys (server/providers/config.ts): unknown keys and inline
  // secrets are refused like everywhere else. The config is kept as written (the provider parses
  // it again when it runs), so the outbox carries exactly what the policy said.
  provider: z
    .looseObject({ type: z.enum(providerTypes) })
    .superRefine((p, ctx) => {
      const r = providerSchemas[p.type].safeParse(p, { error: errorMap });
      if (!r.success) for (const iss of nestedIssues(r.error)) ctx.addIssue(iss);
    })
    .optional(),
});

/**
 * The top level only; users and resources are validated one by one so a broken entry does not
 * hide the cross-field problems of the others.
 */
export const PolicyFileSchema = z.strictObject({
  users: z.array(z.unknown()),
  resources: z.array(z.unknown()),
  notify: NotifyConfig.optional(),
  server: z
    .strictObject({
      publicUrl: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL, e.g. https://elevate.example.com' }).optional(),
      trustedProxies: z.array(Cidr).optional(),
    })
    .optional(),
  identity: IdentityConfig.optional(),
});

type ParsedUser = z.output<typeof UserSchema>;
type ParsedResource = z.output<typeof ResourceSchema>;

// ---------- error formatting ----------

/** A nested parse's issues as custom issues for the enclosing one (unknown keys one by one). */
function nestedIssues(error: z.ZodError): { code: 'custom'; message: string; path: PropertyKey[] }[] {
  return error.issues.flatMap((iss) =>
    iss.code === 'unrecognized_keys'
      ? iss.keys.map((k) => ({ code: 'custom' as const, message: 'unknown key (check the spelling)', path: [...iss.path, k] }))
      : [{ code: 'custom' as const, message: iss.message, path: [...iss.path] }],
  );
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `"${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`;
  return String(v);
}

const expectedNames: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
};

/** Friendlier wording than zod's defaults, for people editing YAML rather than TypeScript. */
const errorMap: z.core.$ZodErrorMap = (iss) => {
  if (iss.input === undefined && (iss.code === 'invalid_type' || iss.code === 'invalid_union')) return 'is required';
  if (iss.code === 'invalid_type') return `expected ${expectedNames[iss.expected] ?? iss.expected}, got ${describeValue(iss.input)}`;
  if (iss.code === 'invalid_value') return `must be one of ${iss.values.map(String).join(', ')}, got ${describeValue(iss.input)}`;
  return undefined;
};

function formatPath(base: string, path: readonly PropertyKey[]): string {
  let out = base;
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? String(seg) : `.${String(seg)}`;
  return out === '' ? '(top level)' : out;
}

function formatIssues(base: string, error: z.ZodError): string[] {
  return error.issues.flatMap((iss) =>
    iss.code === 'unrecognized_keys'
      ? iss.keys.map((k) => `${formatPath(base, [...iss.path, k])}: unknown key (check the spelling)`)
      : [`${formatPath(base, iss.path)}: ${iss.message}`],
  );
}

// ---------- normalization and cross-field checks ----------

function toUser(u: ParsedUser): PolicyUser {
  return { id: u.id, name: u.name ?? u.id, groups: u.groups ?? [], roles: u.roles ?? [] };
}

function toResource(r: ParsedResource): Resource {
  const max = r.maxDuration;
  const autoApprove = (r.approval?.autoApprove ?? []).map((rule): AutoApproveRule => ({
    roles: rule.roles,
    maxDurationSeconds: rule.maxDuration,
    ...(rule.groups ? { groups: rule.groups } : {}),
    ...(rule.window ? { window: rule.window } : {}),
  }));
  const { type, ...providerRest } = r.provider ?? { type: 'none' as const };
  const provider: ProviderConfig = { ...providerRest, type };
  return {
    id: r.id,
    name: r.name ?? r.id,
    description: r.description ?? '',
    roles: r.roles,
    maxDurationSeconds: max,
    defaultDurationSeconds: r.defaultDuration ?? Math.min(DEFAULT_DURATION_CAP, max),
    requireTicket: r.requireTicket ?? false,
    pendingTtlSeconds: r.pendingTtl ?? DEFAULT_PENDING_TTL,
    approval: {
      approvers: r.approval?.approvers ?? ['role:admin'],
      required: r.approval?.required ?? 1,
      autoApprove,
    },
    extension: {
      maxTotalSeconds: r.extension?.maxTotal ?? 2 * max,
      withoutApprovalSeconds: r.extension?.withoutApproval ?? 0,
    },
    breakGlass: r.breakGlass ?? false,
    provider,
    ...(r.hints && { hints: r.hints }),
  };
}

/** The value of `schema` at `key` of a raw mapping, or undefined when absent or invalid. */
function fieldOf<T>(raw: unknown, key: string, schema: z.ZodType<T>): T | undefined {
  if (!isRecord(raw)) return undefined;
  const r = schema.safeParse(raw[key]);
  return r.success ? r.data : undefined;
}

const listOf = (raw: unknown, key: string): unknown[] => fieldOf(raw, key, z.array(z.unknown())) ?? [];
const Strings = z.array(z.string());
const ToDuration = Duration.optional();

/**
 * Rules that relate several fields of one resource. They read the raw entry field by field, so
 * they still run when some other field of the same resource is broken; a rule whose fields are
 * themselves invalid is skipped (that field already has its own error).
 */
function crossCheckResource(raw: unknown, at: string, knownUsers: ReadonlySet<string>): string[] {
  const errors: string[] = [];
  const max = fieldOf(raw, 'maxDuration', ToDuration);
  const roles = fieldOf(raw, 'roles', Strings);
  const approval = isRecord(raw) ? raw.approval : undefined;
  const extension = isRecord(raw) ? raw.extension : undefined;

  const defaultDuration = fieldOf(raw, 'defaultDuration', ToDuration);
  if (max !== undefined && defaultDuration !== undefined && defaultDuration > max) {
    errors.push(`${at}.defaultDuration: ${formatDuration(defaultDuration)} exceeds maxDuration ${formatDuration(max)}`);
  }
  roles?.forEach((role, i) => {
    if (roles.indexOf(role) !== i) errors.push(`${at}.roles[${i}]: duplicate role "${role}"`);
  });
  listOf(approval, 'approvers').forEach((a, i) => {
    if (typeof a === 'string' && a.startsWith('user:') && !knownUsers.has(a.slice(5))) {
      errors.push(`${at}.approval.approvers[${i}]: unknown user "${a.slice(5)}" (not in users)`);
    }
  });
  listOf(approval, 'autoApprove').forEach((rule, j) => {
    const ruleAt = `${at}.approval.autoApprove[${j}]`;
    const ruleMax = fieldOf(rule, 'maxDuration', ToDuration);
    if (max !== undefined && ruleMax !== undefined && ruleMax > max) {
      errors.push(`${ruleAt}.maxDuration: ${formatDuration(ruleMax)} exceeds the resource's maxDuration ${formatDuration(max)}`);
    }
    fieldOf(rule, 'roles', Strings)?.forEach((role, k) => {
      if (roles !== undefined && !roles.includes(role)) {
        errors.push(`${ruleAt}.roles[${k}]: "${role}" is not one of the resource's roles (${roles.join(', ')})`);
      }
    });
  });
  if (isRecord(raw) && roles !== undefined) {
    for (const p of providerRoleProblems(raw.provider, roles)) errors.push(`${at}.${p.path}: ${p.message}`);
  }
  const maxTotal = fieldOf(extension, 'maxTotal', ToDuration);
  if (max !== undefined && maxTotal !== undefined && maxTotal < max) {
    errors.push(`${at}.extension.maxTotal: ${formatDuration(maxTotal)} is shorter than maxDuration ${formatDuration(max)}`);
  }
  const withoutApproval = fieldOf(extension, 'withoutApproval', DurationOrZero.optional());
  // Without an explicit maxTotal the default (2 x maxDuration) is the limit.
  const effectiveMaxTotal = maxTotal ?? (max !== undefined ? 2 * max : undefined);
  if (withoutApproval !== undefined && effectiveMaxTotal !== undefined && withoutApproval > effectiveMaxTotal) {
    errors.push(`${at}.extension.withoutApproval: ${formatDuration(withoutApproval)} exceeds extension.maxTotal ${formatDuration(effectiveMaxTotal)}`);
  }
  return errors;
}

/** `users[3].id: duplicate id "alice" (first at users[0])` for every repeat of an id. */
function duplicateIds(list: string, ids: ReadonlyArray<string | undefined>): string[] {
  const first = new Map<string, number>();
  const errors: string[] = [];
  ids.forEach((id, i) => {
    if (id === undefined) return;
    const seen = first.get(id);
    if (seen === undefined) first.set(id, i);
    else errors.push(`${list}[${i}].id: duplicate id "${id}" (first at ${list}[${seen}])`);
  });
  return errors;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The id of a raw list entry when it has a string one, even if the entry is otherwise broken. */
function rawId(entry: unknown): string | undefined {
  return isRecord(entry) && typeof entry.id === 'string' ? entry.id : undefined;
}

// ---------- entry points ----------

/** Parses and validates a policy document (YAML or JSON). Never throws. */
export function parsePolicy(text: string): PolicyResult {
  try {
    return parsePolicyUnsafe(text);
  } catch (e) {
    // Nothing above should throw; this keeps the promise for inputs nobody foresaw.
    return { ok: false, errors: [`(top level): cannot read the policy: ${e instanceof Error ? e.message : String(e)}`] };
  }
}

function parsePolicyUnsafe(text: string): PolicyResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    const { line, col } = lineCounter.linePos(err.pos[0]);
    return { ok: false, errors: [`line ${line}, column ${col}: ${err.message.split('\n')[0]}`] };
  }
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) {
    return { ok: false, errors: ['(top level): the policy is empty; expected users and resources'] };
  }

  const errors: string[] = [];
  const top = PolicyFileSchema.safeParse(data, { error: errorMap });
  if (!top.success) errors.push(...formatIssues('', top.error));
  // Go on with whichever lists are there, so a stray top-level key does not hide other problems.
  const listAt = (key: string): unknown[] => (isRecord(data) && Array.isArray(data[key]) ? data[key] : []);
  const rawUsers = listAt('users');
  const rawResources = listAt('resources');

  const users: PolicyUser[] = [];
  rawUsers.forEach((raw, i) => {
    const r = UserSchema.safeParse(raw, { error: errorMap });
    if (r.success) users.push(toUser(r.data));
    else errors.push(...formatIssues(`users[${i}]`, r.error));
  });
  errors.push(...duplicateIds('users', rawUsers.map(rawId)));

  // Known users come from the raw ids, so a user with some other mistake does not also make every
  // "user:X" that names them an error.
  const knownUsers = new Set(rawUsers.map(rawId).filter((id): id is string => id !== undefined));
  const resources: Resource[] = [];
  rawResources.forEach((raw, i) => {
    const r = ResourceSchema.safeParse(raw, { error: errorMap });
    if (r.success) resources.push(toResource(r.data));
    else errors.push(...formatIssues(`resources[${i}]`, r.error));
    errors.push(...crossCheckResource(raw, `resources[${i}]`, knownUsers));
  });
  errors.push(...duplicateIds('resources', rawResources.map(rawId)));

  if (errors.length || !top.success) return { ok: false, errors: sortByPath(errors) };
  const policy: Policy = {
    users: new Map(users.map((u) => [u.id, u])),
    resources: new Map(resources.map((r) => [r.id, r])),
    ...(top.data.notify !== undefined ? { notify: top.data.notify } : {}),
    server: {
      ...(top.data.server?.publicUrl !== undefined ? { publicUrl: top.data.server.publicUrl } : {}),
      trustedProxies: top.data.server?.trustedProxies ?? [],
    },
    identity: toIdentitySettings(top.data.identity),
  };
  return { ok: true, policy };
}

/** File order: users before resources, entries by index, so the list reads top to bottom. */
function sortByPath(errors: string[]): string[] {
  const key = (e: string) => {
    const m = /^(users|resources)\[(\d+)\]/.exec(e);
    return m ? (m[1] === 'users' ? 0 : 1e9) + Number(m[2]) : -1;
  };
  return errors
    .map((e, i) => ({ e, i, k: key(e) }))
    .sort((a, b) => a.k - b.k || a.i - b.i)
    .map((x) => x.e);
}

/** Reads and validates a policy file; every error is prefixed with the path. Never throws. */
export function loadPolicyFile(path: string): PolicyResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const reason = e instanceof Error && 'code' in e && e.code === 'ENOENT' ? 'no such file' : e instanceof Error ? e.message : String(e);
    return { ok: false, errors: [`${path}: cannot read the policy file: ${reason}`] };
  }
  const result = parsePolicy(text);
  return result.ok ? result : { ok: false, errors: result.errors.map((e) => `${path}: ${e}`) };
}

// ---------- approvers ----------

function matchesApprover(user: PolicyUser, entry: string): boolean {
  const colon = entry.indexOf(':');
  const kind = entry.slice(0, colon);
  const name = entry.slice(colon + 1);
  if (kind === 'group') return user.groups.includes(name);
  if (kind === 'user') return user.id === name;
  if (kind === 'role') return (user.roles as readonly string[]).includes(name);
  return false;
}

/** Every user id that may approve requests for the resource, in policy order. */
export function approverIds(policy: Policy, resource: Resource): string[] {
  return [...policy.users.values()].filter((u) => resource.approval.approvers.some((a) => matchesApprover(u, a))).map((u) => u.id);
}

export function isApprover(policy: Policy, userId: string, resource: Resource): boolean {
  const user = policy.users.get(userId);
  return user !== undefined && resource.approval.approvers.some((a) => matchesApprover(user, a));
}

/** Ids of the resources the user may approve requests for. */
export function approverOf(policy: Policy, userId: string): string[] {
  return [...policy.resources.values()].filter((r) => isApprover(policy, userId, r)).map((r) => r.id);
}

/** Whether `required` distinct approvers other than the requester exist (nobody approves their own). */
export function canEverBeApproved(policy: Policy, resource: Resource, requesterId: string): boolean {
  return approverIds(policy, resource).filter((id) => id !== requesterId).length >= resource.approval.required;
}

/** "dba", "dba or carol", "dba, sre or carol" — for "Waiting for approval by dba (1 of 1)". */
export function describeApprovers(resource: Resource): string {
  const names = resource.approval.approvers.map((a) => a.slice(a.indexOf(':') + 1));
  if (names.length === 0) return 'nobody';
  if (names.length === 1) return names[0];
  return `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
}
