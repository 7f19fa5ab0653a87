// Policy rules both sides need, in one place (issue 12): whether an auto-approval rule matches a
// request, with reasons written for people, and what the request and extend pickers offer. The
// server's evaluation (domain/evaluate.ts) and the editor's labels both call these, so a label can
// never promise what the dry run then refuses. Pure; imports nothing but the other shared modules.
import { formatPolicyDuration } from './duration.js';
import { isWithinWindow, parseWindow, type TimeWindow } from './window.js';

/** An auto-approval rule: the policy's (window parsed) or the wire's (window as written). */
export interface RuleShape {
  roles: readonly string[];
  maxDurationSeconds: number;
  groups?: readonly string[];
  window?: TimeWindow | string;
}

export interface Requester {
  id: string;
  groups: readonly string[];
}

const windows = new Map<string, TimeWindow | null>();

/** A rule's window, parsed once per text; null when the text does not parse (never matches). */
function windowOf(w: TimeWindow | string): TimeWindow | null {
  if (typeof w !== 'string') return w;
  let parsed = windows.get(w);
  if (parsed === undefined) {
    try {
      parsed = parseWindow(w);
    } catch {
      parsed = null;
    }
    windows.set(w, parsed);
  }
  return parsed;
}

const list = (xs: readonly string[]) => (xs.length === 1 ? xs[0] : `${xs.slice(0, -1).join(', ')} or ${xs[xs.length - 1]}`);

/** What a rule approves at once, for people: "read up to 30m, for oncall, Mon-Fri 08:00-18:00 Europe/Berlin". */
export function describeRule(rule: RuleShape): string {
  const source = rule.window === undefined ? undefined : typeof rule.window === 'string' ? rule.window : rule.window.source;
  return [
    `${list(rule.roles)} up to ${formatPolicyDuration(rule.maxDurationSeconds)}`,
    ...(rule.groups?.length ? [`for ${list(rule.groups)}`] : []),
    ...(source ? [source] : []),
  ].join(', ');
}

/**
 * Why `rule` does not approve this request at once, as short phrases ("alice is not in oncall");
 * empty when it does. `now` (ms) decides the window.
 */
export function ruleMismatches(rule: RuleShape, input: { role: string; durationSeconds: number }, requester: Requester, now: number): string[] {
  const why: string[] = [];
  if (!rule.roles.includes(input.role)) why.push(`it does not cover ${input.role}`);
  if (input.durationSeconds > rule.maxDurationSeconds) {
    why.push(`${formatPolicyDuration(input.durationSeconds)} is longer than ${formatPolicyDuration(rule.maxDurationSeconds)}`);
  }
  if (rule.groups?.length && !rule.groups.some((g) => requester.groups.includes(g))) why.push(`${requester.id} is not in ${list(rule.groups)}`);
  if (rule.window !== undefined) {
    const w = windowOf(rule.window);
    if (!w || !isWithinWindow(w, now)) why.push(`it is outside ${typeof rule.window === 'string' ? rule.window : rule.window.source} now`);
  }
  return why;
}

/** One line for a rule that does not match: "read up to 30m, for oncall is approved at once, but alice is not in oncall". */
export function mismatchReason(rule: RuleShape, why: readonly string[]): string {
  return `${describeRule(rule)} is approved at once, but ${why.join(' and ')}`;
}

/** The first rule that approves this request at once, now, for this requester (-1: none). */
export function matchingRule(rules: readonly RuleShape[], input: { role: string; durationSeconds: number }, requester: Requester, now: number): number {
  return rules.findIndex((rule) => ruleMismatches(rule, input, requester, now).length === 0);
}

/**
 * The longest duration of `role` this requester gets approved at once now (0: none): what the
 * role step of the request picker promises, from the same matching as the dry run.
 */
export function atOnceLimit(rules: readonly RuleShape[], role: string, requester: Requester, now: number): number {
  let best = 0;
  for (const rule of rules) {
    const input = { role, durationSeconds: rule.maxDurationSeconds };
    if (ruleMismatches(rule, input, requester, now).length === 0) best = Math.max(best, rule.maxDurationSeconds);
  }
  return best;
}

// ---------- what the pickers offer ----------

const MIN = 60;
const HOUR = 3600;
const DAY = 86400;

/** Durations the request picker offers (within the resource's maxDuration). */
export const REQUEST_PRESETS = [15 * MIN, 30 * MIN, HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY];
/** Extension lengths the extend picker offers (within what maxTotal leaves). */
export const EXTEND_PRESETS = [15 * MIN, 30 * MIN, HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR];

/** The wire shape of a resource as far as these rules need it. */
export interface ResourceShape {
  maxDurationSeconds: number;
  defaultDurationSeconds: number;
  approval: { autoApprove: readonly RuleShape[] };
  extension: { withoutApprovalSeconds: number };
}

export interface DurationChoice {
  seconds: number;
  isDefault: boolean;
  isMax: boolean;
  /** approved at once for this requester, now (the same matching as the dry run) */
  atOnce: boolean;
}

/** Durations to offer for a request: presets within maxDuration, plus the default, the auto-approval limits and the maximum. */
export function durationChoices(resource: ResourceShape, role: string, requester: Requester, now: number): DurationChoice[] {
  const max = resource.maxDurationSeconds;
  const def = Math.min(resource.defaultDurationSeconds, max);
  const set = new Set(REQUEST_PRESETS.filter((s) => s <= max));
  set.add(def);
  for (const rule of resource.approval.autoApprove) if (rule.roles.includes(role) && rule.maxDurationSeconds <= max) set.add(rule.maxDurationSeconds);
  set.add(max);
  return [...set]
    .filter((s) => s > 0)
    .sort((a, b) => a - b)
    .map((seconds) => ({
      seconds,
      isDefault: seconds === def,
      isMax: seconds === max,
      atOnce: matchingRule(resource.approval.autoApprove, { role, durationSeconds: seconds }, requester, now) >= 0,
    }));
}

/**
 * `extension.withoutApproval` is a budget per grant: what it may still get without an approver,
 * once `addedSeconds` were added that way before.
 */
export function withoutApprovalLeft(withoutApprovalSeconds: number, addedSeconds: number): number {
  return Math.max(0, withoutApprovalSeconds - Math.max(0, addedSeconds));
}

/**
 * Whether an extension of `seconds` applies at once: it fits in what is left of the grant's
 * withoutApproval budget. The server's evaluation (domain/evaluate.ts) and the extend picker's
 * labels both decide with this.
 */
export function extendsAtOnce(seconds: number, withoutApprovalSeconds: number, addedSeconds: number): boolean {
  return seconds > 0 && seconds <= withoutApprovalLeft(withoutApprovalSeconds, addedSeconds);
}

export interface ExtendChoice {
  seconds: number;
  /** applied at once (within extension.withoutApproval) or needs an approver */
  atOnce: boolean;
  /** the new end, ms since the epoch */
  newExpiresAt: number;
  /** this choice takes the grant exactly to its maxTotal limit */
  toLimit: boolean;
}

export interface ExtendChoices {
  choices: ExtendChoice[];
  /** seconds the grant may still be extended by (to maxExpiresAt) */
  roomSeconds: number;
  /** seconds still applied at once (what is left of the grant's withoutApproval budget) */
  atOnceLeftSeconds: number;
  /** why nothing can be offered, when `choices` is empty */
  reason?: 'ended' | 'atLimit';
}

/**
 * Extension lengths for a grant (times in ms): presets, what is left of the grant's at-once budget
 * (`addedWithoutApprovalSeconds` of `withoutApprovalSeconds` spent) and the length that reaches
 * the limit, never anything past `maxExpiresAt`.
 */
export function extendChoices(
  grant: { status: string; expiresAt: number; maxExpiresAt: number; addedWithoutApprovalSeconds?: number },
  withoutApprovalSeconds: number,
  now: number,
  presets: readonly number[] = EXTEND_PRESETS,
): ExtendChoices {
  const room = Math.floor((grant.maxExpiresAt - grant.expiresAt) / 1000);
  const added = grant.addedWithoutApprovalSeconds ?? 0;
  const atOnceLeftSeconds = Math.min(withoutApprovalLeft(withoutApprovalSeconds, added), Math.max(0, room));
  if (grant.status !== 'active' || grant.expiresAt <= now) return { choices: [], roomSeconds: Math.max(0, room), atOnceLeftSeconds: 0, reason: 'ended' };
  if (room <= 0) return { choices: [], roomSeconds: 0, atOnceLeftSeconds: 0, reason: 'atLimit' };
  const set = new Set(presets.filter((s) => s > 0 && s <= room));
  if (atOnceLeftSeconds > 0) set.add(atOnceLeftSeconds);
  set.add(room);
  const choices = [...set]
    .sort((a, b) => a - b)
    .map((seconds) => ({
      seconds,
      atOnce: extendsAtOnce(seconds, withoutApprovalSeconds, added),
      newExpiresAt: grant.expiresAt + seconds * 1000,
      toLimit: seconds === room,
    }));
  return { choices, roomSeconds: room, atOnceLeftSeconds };
}
