// Streams the audit log oldest-first as JSONL or CSV, honouring backpressure so memory stays
// flat however large the log is.
import type { Writable } from 'node:stream';
import { type AuditLog, rowToEvent } from '../db/audit.js';
import { csvCell } from '../protocol/escape/csv.js';

// subjectId and v last: added with hash format 2 (they are under its hash), so older readers keep their columns
const CSV_COLUMNS = ['seq', 'at', 'actorId', 'action', 'resourceId', 'requestId', 'grantId', 'details', 'prevHash', 'hash', 'subjectId', 'v'] as const;


export async function exportAudit(audit: AuditLog, format: 'jsonl' | 'csv', range: { from?: number; to?: number }, out: Writable): Promise<number> {
  let n = 0;
  let chunk = format === 'csv' ? CSV_COLUMNS.join(',') + '\n' : '';
  const flush = async () => {
    if (!chunk) return;
    const ok = out.write(chunk);
    chunk = '';
    if (!ok) await new Promise<void>((r) => out.once('drain', r));
  };
  for (const row of audit.iterate(range)) {
    const e = rowToEvent(row);
    if (format === 'jsonl') chunk += JSON.stringify(e) + '\n';
    else {
      const rec = e as unknown as Record<string, unknown>;
      chunk += CSV_COLUMNS.map((c) => csvCell(rec[c])).join(',') + '\n';
    }
    n++;
    if (chunk.length > 64 * 1024) await flush();
  }
  await flush();
  return n;
}
