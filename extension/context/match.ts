// Which resource a refusal belongs to (issue 15): the resources whose policy hints fit what the
// command line and output said, else the ones this workspace's manifest declares; and which role
// to ask for. Pure (no vscode import), unit-tested.
import type { Me, ResourceView } from '../../server/protocol';
import { atOnceLimit } from '../../server/protocol/rules';
import type { Refusal, Where } from './refusals';

/** A need from the workspace manifest (.vscode/elevate.json), as far as matching cares. */
export interface NeedLike {
  resource: string;
  role: string;
}

export interface Candidate {
  resource: ResourceView;
  role: string;
  /** "hints" when the policy's hints matched, "manifest" when only the workspace declared it */
  why: 'hints' | 'manifest';
}

/** `*.prod.internal` matches `db.prod.internal` (not `prod.internal`); otherwise exact, case-insensitive. */
export function hostMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  const h = host.toLowerCase();
  return p.startsWith('*.') ? h.endsWith(p.slice(1)) && h.length > p.length - 1 : p === h;
}

/** A trailing `*` matches any rest; otherwise the URL must be equal (ignoring a trailing slash). */
export function urlMatches(pattern: string, url: string): boolean {
  if (pattern.endsWith('*')) return url.startsWith(pattern.slice(0, -1));
  return pattern.replace(/\/$/, '') === url.replace(/\/$/, '');
}

/** How many of the resource's hints the refusal's `where` fits; 0 when none, or when one contradicts. */
export function hintScore(r: ResourceView, where: Where): number {
  const h = r.hints;
  if (!h) return 0;
  let score = 0;
  const check = (list: readonly string[] | undefined, value: string | undefined, eq: (p: string, v: string) => boolean) => {
    if (!list || value === undefined) return true;
    if (!list.some((p) => eq(p, value))) return false;
    score++;
    return true;
  };
  const ok =
    check(h.hosts, where.host, hostMatches) &&
    check(h.databases, where.database, (p, v) => p === v) &&
    check(h.kubeContexts, where.kubeContext, (p, v) => p === v) &&
    check(h.awsAccounts, where.awsAccount, (p, v) => p === v) &&
    check(h.urls, where.url, urlMatches);
  return ok ? score : 0;
}

/**
 * The role to ask for: the manifest's when it names this resource, else a write-like role for a
 * command that changes something, else a read-like role, else the first (the policy lists the
 * least first by habit).
 */
export function suggestRole(r: ResourceView, writes: boolean, needs: readonly NeedLike[] = []): string {
  const declared = needs.find((n) => n.resource === r.id && r.roles.includes(n.role));
  if (declared) return declared.role;
  const find = (re: RegExp) => r.roles.find((x) => re.test(x));
  return (writes ? find(/write|admin|owner|edit|deploy/i) : find(/read|view|select/i)) ?? r.roles[0];
}

/**
 * Resources the refusal may belong to, best first. Only the best-scoring hint matches are kept
 * (a host and a database beat a host alone); with no hint match, the manifest's needs.
 */
export function candidatesFor(refusal: Refusal, resources: readonly ResourceView[], needs: readonly NeedLike[] = []): Candidate[] {
  const scored = resources.map((r) => ({ r, s: hintScore(r, refusal.where) })).filter((x) => x.s > 0);
  if (scored.length) {
    const best = Math.max(...scored.map((x) => x.s));
    return scored.filter((x) => x.s === best).map(({ r }) => ({ resource: r, role: suggestRole(r, refusal.writes, needs), why: 'hints' }));
  }
  const seen = new Set<string>();
  const out: Candidate[] = [];
  for (const n of needs) {
    const r = resources.find((x) => x.id === n.resource);
    if (!r || seen.has(r.id)) continue;
    seen.add(r.id);
    out.push({ resource: r, role: suggestRole(r, refusal.writes, needs), why: 'manifest' });
  }
  return out;
}

/** "psql was refused on table orders" */
export const refusalSentence = (r: Refusal) => `${r.tool} was refused ${r.what}`;

/** The justification a refusal's request is prefilled with (the command already redacted). */
export function refusalJustification(command: string, r: Refusal, ticket?: string): string {
  const base = `Refused in my terminal: \`${command}\` (${r.line.length > 200 ? `${r.line.slice(0, 199)}…` : r.line})`;
  return ticket ? `${ticket}: ${base}` : base;
}

/**
 * How long a one-click request asks for: what the manifest declares, else the resource's default,
 * shortened to the longest that is approved at once for this role when that is shorter (a refused
 * command should not wait for an approver only because the default is long). Never past the max.
 */
export function oneClickDuration(r: ResourceView, role: string, user: Pick<Me['user'], 'id' | 'groups'>, now: number, declaredSeconds?: number): number {
  const max = r.maxDurationSeconds;
  if (declaredSeconds !== undefined) return Math.min(declaredSeconds, max);
  const def = Math.min(r.defaultDurationSeconds, max);
  // the same matching as the server's dry run (server/protocol/rules.ts)
  const atOnce = Math.min(atOnceLimit(r.approval.autoApprove, role, user, now), max);
  return atOnce > 0 && atOnce < def ? atOnce : def;
}
