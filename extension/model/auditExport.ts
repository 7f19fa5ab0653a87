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

/** One line summary of an event's details for the table. */
export function summarizeDetails(details: Record<string, unknown>): string {
  return Object.entries(details)
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' · ');
}
