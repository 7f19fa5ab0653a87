// What the request and extend pickers offer, computed from the policy alone (pure).
import type { Grant, Me, ResourceView } from '../../server/protocol';

const MIN = 60;
const HOUR = 3600;
const DAY = 86400;

export const REQUEST_PRESETS = [15 * MIN, 30 * MIN, HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY];
export const EXTEND_PRESETS = [15 * MIN, 30 * MIN, HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR];

/** yes: a rule matches for sure; maybe: only its time window can refuse; no: needs approval. */
export type AutoApproval = 'yes' | 'maybe' | 'no';

export interface DurationChoice {
  seconds: number;
  isDefault: boolean;
  isMax: boolean;
  autoApproval: AutoApproval;
}

type User = Me['user'];

export function autoApprovalFor(resource: ResourceView, role: string, seconds: number, user: Pick<User, 'groups'>): AutoApproval {
  let best: AutoApproval = 'no';
  for (const rule of resource.approval.autoApprove) {
    if (!rule.roles.includes(role) || seconds > rule.maxDurationSeconds) continue;
    if (rule.groups?.length && !rule.groups.some((g) => user.groups.includes(g))) continue;
    if (!rule.window) return 'yes';
    best = 'maybe';
  }
  return best;
}

/** Durations to offer for a request: presets within maxDuration, plus the default, the policy's auto-approval limits and the maximum. */
export function durationChoices(resource: ResourceView, role: string, user: Pick<User, 'groups'>): DurationChoice[] {
  const max = resource.maxDurationSeconds;
  const set = new Set(REQUEST_PRESETS.filter((s) => s <= max));
  set.add(Math.min(resource.defaultDurationSeconds, max));
  for (const rule of resource.approval.autoApprove) if (rule.roles.includes(role) && rule.maxDurationSeconds <= max) set.add(rule.maxDurationSeconds);
  set.add(max);
  return [...set]
    .filter((s) => s > 0)
    .sort((a, b) => a - b)
    .map((seconds) => ({
      seconds,
      isDefault: seconds === Math.min(resource.defaultDurationSeconds, max),
      isMax: seconds === max,
      autoApproval: autoApprovalFor(resource, role, seconds, user),
    }));
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
  /** why nothing can be offered, when `choices` is empty */
  reason?: 'ended' | 'atLimit';
}

/**
 * Extension lengths for a grant: presets, the length that applies without approval and the
 * length that reaches the limit, never anything past `maxExpiresAt`.
 */
export function extendChoices(grant: Grant, resource: ResourceView | undefined, now: number): ExtendChoices {
  const expiresAt = Date.parse(grant.expiresAt);
  const room = Math.floor((Date.parse(grant.maxExpiresAt) - expiresAt) / 1000);
  if (grant.status !== 'active' || expiresAt <= now) return { choices: [], roomSeconds: Math.max(0, room), reason: 'ended' };
  if (room <= 0) return { choices: [], roomSeconds: 0, reason: 'atLimit' };
  const withoutApproval = resource?.extension.withoutApprovalSeconds ?? 0;
  const set = new Set(EXTEND_PRESETS.filter((s) => s <= room));
  if (withoutApproval > 0 && withoutApproval <= room) set.add(withoutApproval);
  set.add(room);
  const choices = [...set]
    .sort((a, b) => a - b)
    .map((seconds) => ({ seconds, atOnce: seconds <= withoutApproval, newExpiresAt: expiresAt + seconds * 1000, toLimit: seconds === room }));
  return { choices, roomSeconds: room };
}
