// What an agent's elevate_requestAccess input stands for (pure, unit-tested): the request body,
// or a sentence the agent can act on. The tool (tools.ts) shows it for confirmation, then sends it.
import type { CreateRequestBody } from '../../server/protocol';
import { manifestDuration } from '../context/manifest';
import { oneClickDuration } from '../context/match';
import { formatDuration } from '../model/format';
import type { ElevateModel } from '../model/model';

export interface RequestAccessInput {
  resource: string;
  role: string;
  /** e.g. "30m"; default: the resource's default (shortened to what is approved at once) */
  duration?: string;
  justification: string;
}

/** The request an agent's input stands for, or why it cannot be made. Pure but for the model. */
export function planRequest(
  deps: { model: Pick<ElevateModel, 'resource' | 'resources' | 'me' | 'now'> },
  input: unknown,
  ticket?: string,
): { body: CreateRequestBody; name: string } | { error: string } {
  if (!input || typeof input !== 'object') return { error: 'Input must be an object with resource, role and justification.' };
  const i = input as Record<string, unknown>;
  const str = (k: string) => (typeof i[k] === 'string' && (i[k] as string).trim() ? (i[k] as string).trim() : undefined);
  const { model } = deps;
  const resource = str('resource');
  const role = str('role');
  const justification = str('justification');
  if (!resource || !role || !justification)
    return { error: 'resource, role and justification are required (see elevate_listAccess for what can be requested).' };
  const r = model.resource(resource) ?? model.resources.find((x) => x.name.toLowerCase() === resource.toLowerCase());
  if (!r) return { error: `There is no resource "${resource}". Requestable: ${model.resources.map((x) => x.id).join(', ') || 'none'}.` };
  if (!r.roles.includes(role)) return { error: `${r.name} has no role "${role}"; its roles: ${r.roles.join(', ')}.` };
  const duration = str('duration');
  const declared = duration !== undefined ? manifestDuration(duration) : undefined;
  if (duration !== undefined && declared === undefined) return { error: `"${duration}" is not a duration like "30m" or "1h".` };
  if (declared !== undefined && declared > r.maxDurationSeconds) return { error: `${r.name} grants at most ${formatDuration(r.maxDurationSeconds)}.` };
  return {
    name: r.name,
    body: {
      resourceId: r.id,
      role,
      durationSeconds: oneClickDuration(r, role, model.me ?? { id: '', groups: [] }, model.now(), declared),
      justification: justification.slice(0, 2000),
      ...(ticket && { ticket }),
      via: 'agent',
    },
  };
}

/** Text an agent wrote, shown literally in Markdown (no links, emphasis or HTML of its making). */
export const escapeMarkdown = (s: string) => s.replace(/[\\`*_{}[\]()#+\-.!|<>~]/g, '\\$&').replace(/\r?\n/g, ' ');
