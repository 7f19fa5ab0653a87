// What the request and extend pickers offer, for this person, now. The rules themselves live once
// in server/protocol/rules.ts (the server's dry run uses the same matching); this adapts the wire
// shapes the extension holds (pure, no vscode import).
import type { Grant, Me, ResourceView } from '../../server/protocol';
import {
  atOnceLimit,
  durationChoices as sharedDurationChoices,
  extendChoices as sharedExtendChoices,
  extendsAtOnce,
  type DurationChoice,
  type ExtendChoices,
} from '../../server/protocol/rules';

export type { DurationChoice, ExtendChoices } from '../../server/protocol/rules';

type User = Pick<Me['user'], 'id' | 'groups'>;

export interface RoleChoice {
  role: string;
  /** the longest duration approved at once for this person now (0: every request needs approval) */
  atOnceUpToSeconds: number;
}

/** The roles of a resource, each with what this person gets approved at once now (the role step's labels). */
export function roleChoices(resource: ResourceView, user: User, now: number): RoleChoice[] {
  return resource.roles.map((role) => ({ role, atOnceUpToSeconds: atOnceLimit(resource.approval.autoApprove, role, user, now) }));
}

/** Durations to offer for a request, each marked with whether it is approved at once for this person now. */
export function durationChoices(resource: ResourceView, role: string, user: User, now: number): DurationChoice[] {
  return sharedDurationChoices(resource, role, user, now);
}

/** Extension lengths for a grant, marked at once only within what is left of its budget; nothing past its maxExpiresAt. */
export function extendChoices(grant: Grant, resource: ResourceView | undefined, now: number): ExtendChoices {
  return sharedExtendChoices(
    {
      status: grant.status,
      expiresAt: Date.parse(grant.expiresAt),
      maxExpiresAt: Date.parse(grant.maxExpiresAt),
      addedWithoutApprovalSeconds: grant.addedWithoutApprovalSeconds,
    },
    resource?.extension.withoutApprovalSeconds ?? 0,
    now,
  );
}

/** Whether extending this grant by `seconds` (a typed length too) applies at once, as the server decides it. */
export function extendAppliesAtOnce(grant: Grant, resource: ResourceView | undefined, seconds: number): boolean {
  return extendsAtOnce(seconds, resource?.extension.withoutApprovalSeconds ?? 0, grant.addedWithoutApprovalSeconds);
}
