// Which codicon stands for a resource in the sidebar (pure: unit-tested without VS Code).
import type { ResourceView } from '../../server/protocol';

/** An icon by what the resource is: its provider, else words in its id and name; a key otherwise. */
export function iconFor(resource: Pick<ResourceView, 'id' | 'name' | 'provider'>): string {
  const words = `${resource.provider?.type ?? ''} ${resource.id} ${resource.name}`.toLowerCase();
  if (/postgres|mysql|database|\bdb\b|-db\b|sql|redis|mongo/.test(words)) return 'database';
  if (/kube|k8s|cluster|\beks\b|\bgke\b|\baks\b/.test(words)) return 'server-environment';
  if (/aws|gcp|azure|cloud|account|subscription/.test(words)) return 'cloud';
  if (/logs?\b|metric|grafana|kibana|observ/.test(words)) return 'output';
  if (/vpn|network|ssh|host|server|\bvm\b/.test(words)) return 'vm';
  return 'key';
}
