// Audit export formats (pure): JSONL keeps every field as the server sent it; CSV flattens
// `details` to canonical JSON in one column and quotes per RFC 4180.
import type { AuditEvent } from '../../server/protocol';
import { csvCell } from '../../server/protocol/escape/csv';

export const AUDIT_COLUMNS = ['seq', 'at', 'actorId', 'action', 'resourceId', 'requestId', 'grantId', 'details', 'prevHash', 'hash'] as const;

export function toJsonl(events: readonly AuditEvent[]): string {
  return events.map((e) => JSON.stringify(e)).join('\n') + (events.length ? '\n' : '');
}

export function toCsv(events: readonly AuditEvent[]): string {
  const lines = [AUDIT_COLUMNS.join(',')];
  for (const e of events) lines.push(AUDIT_COLUMNS.map((c) => csvCell(e[c])).join(','));
  return lines.join('\r\n') + '\r\n';
}

/** An event's details as readable fields for the table: `[["reason", "INC-4711 resolved"], ...]`. */
export function detailFields(details: Record<string, unknown>): [string, string][] {
  return Object.entries(details)
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => [
      k.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase(),
      typeof v === 'string' ? v : Array.isArray(v) && v.every((x) => typeof x === 'string') ? v.join(', ') : JSON.stringify(v),
    ]);
}

/** The export's file name for a day, e.g. `elevate-audit-2026-12-06.csv`. */
export function exportFileName(format: 'jsonl' | 'csv', now: number): string {
  return `elevate-audit-${new Date(now).toISOString().slice(0, 10)}.${format}`;
}
