// The workspace access manifest, .vscode/elevate.json (issue 15, item 3): what this repository's
// work needs, e.g. { "needs": [{ "resource": "prod-db", "role": "read", "duration": "1h",
// "justification": "…" }] }. Its shape is checked by the JSON schema the extension contributes
// (media/elevate-manifest.schema.json, in the editor's own JSON validation); this module reads it
// leniently and finds what only the server knows: resources or roles it does not offer, durations
// past the maximum. Each problem carries its place in the text for the Problems view. Pure.
import { findNodeAtLocation, parseTree, type Node } from 'jsonc-parser';
import type { AccessRequest, Grant, ResourceView } from '../../server/protocol';
import { parseTypedDuration } from '../../server/protocol/duration';
import { formatDuration } from '../model/format';

export const MANIFEST_PATH = '.vscode/elevate.json';

export interface Need {
  resource: string;
  role: string;
  /** seconds, when the manifest gives a valid duration */
  durationSeconds?: number;
  justification?: string;
  /** where the need is written (offset, length of its object) */
  at: { offset: number; length: number };
}

export interface ManifestProblem {
  message: string;
  offset: number;
  length: number;
  severity: 'error' | 'warning';
}

export interface Manifest {
  needs: Need[];
}

/** A duration as the manifest writes it: units required ("30" alone is not taken as minutes). */
export function manifestDuration(text: string): number | undefined {
  return /[dhms]\s*$/i.test(text.trim()) ? parseTypedDuration(text) : undefined;
}

/** The needs that can be read; entries the schema refuses (no resource, no role) are passed over. */
export function readManifest(text: string): Manifest {
  const root = parseTree(text, [], { allowTrailingComma: true, disallowComments: false });
  const list = root && findNodeAtLocation(root, ['needs']);
  const needs: Need[] = [];
  if (list?.type !== 'array') return { needs };
  for (const item of list.children ?? []) {
    if (item.type !== 'object') continue;
    const str = (key: string) => {
      const n = findNodeAtLocation(item, [key]);
      return n?.type === 'string' && typeof n.value === 'string' && n.value.trim() ? (n.value as string) : undefined;
    };
    const resource = str('resource');
    const role = str('role');
    if (!resource || !role) continue;
    const duration = str('duration');
    const seconds = duration !== undefined ? manifestDuration(duration) : undefined;
    const justification = str('justification');
    needs.push({
      resource,
      role,
      ...(seconds !== undefined && { durationSeconds: seconds }),
      ...(justification && { justification }),
      at: { offset: item.offset, length: item.length },
    });
  }
  return { needs };
}

/** What the server does not offer: unknown resources and roles, durations it would refuse. */
export function checkManifest(text: string, resources: readonly ResourceView[]): ManifestProblem[] {
  const root = parseTree(text, [], { allowTrailingComma: true, disallowComments: false });
  const list = root && findNodeAtLocation(root, ['needs']);
  if (list?.type !== 'array') return [];
  const problems: ManifestProblem[] = [];
  const place = (n: Node) => ({ offset: n.offset, length: n.length });
  for (const item of list.children ?? []) {
    if (item.type !== 'object') continue;
    const resNode = findNodeAtLocation(item, ['resource']);
    const roleNode = findNodeAtLocation(item, ['role']);
    const durNode = findNodeAtLocation(item, ['duration']);
    if (resNode?.type !== 'string') continue;
    const r = resources.find((x) => x.id === resNode.value);
    if (!r) {
      const known = resources.map((x) => x.id);
      problems.push({
        severity: 'error',
        ...place(resNode),
        message: `The Elevate server offers no resource "${String(resNode.value)}"${known.length ? ` (it offers: ${known.join(', ')})` : ''}.`,
      });
      continue;
    }
    if (roleNode?.type === 'string' && !r.roles.includes(String(roleNode.value))) {
      problems.push({
        severity: 'error',
        ...place(roleNode),
        message: `${r.name} has no role "${String(roleNode.value)}" (its roles: ${r.roles.join(', ')}).`,
      });
    }
    if (durNode?.type === 'string') {
      const s = manifestDuration(String(durNode.value));
      if (s === undefined)
        problems.push({ severity: 'error', ...place(durNode), message: `"${String(durNode.value)}" is not a duration; write it like "45m", "1h30m" or "2h".` });
      else if (s > r.maxDurationSeconds)
        problems.push({
          severity: 'warning',
          ...place(durNode),
          message: `${r.name} grants at most ${formatDuration(r.maxDurationSeconds)}; requests will ask for that.`,
        });
    }
  }
  return problems;
}

export type NeedState = { kind: 'held'; grant: Grant } | { kind: 'pending'; request: AccessRequest } | { kind: 'none' } | { kind: 'unknown' };

/** Whether a need is met: an active grant of that role, a pending request for it, or neither. */
export function needState(
  need: Pick<Need, 'resource' | 'role'>,
  resources: readonly ResourceView[],
  grants: readonly Grant[],
  requests: readonly AccessRequest[],
  now: number,
): NeedState {
  const r = resources.find((x) => x.id === need.resource);
  if (!r || !r.roles.includes(need.role)) return { kind: 'unknown' };
  const grant = grants
    .filter((g) => g.resourceId === need.resource && g.role === need.role && g.status === 'active' && Date.parse(g.expiresAt) > now)
    .sort((a, b) => Date.parse(b.expiresAt) - Date.parse(a.expiresAt))[0];
  if (grant) return { kind: 'held', grant };
  const request = requests.find((q) => q.kind === 'access' && q.resourceId === need.resource && q.role === need.role && q.status === 'pending');
  return request ? { kind: 'pending', request } : { kind: 'none' };
}
