// Streams the audit log oldest-first as JSONL or CSV, honouring backpressure so memory stays
// flat however large the log is.
import type { Writable } from 'node:stream';
import type { Store } from '../store/types.js';
import { csvCell } from '../protocol/escape/csv.js';

// subjectId and v last: added with hash format 2 (they are under its hash), so older readers keep their columns
const CSV_COLUMNS = ['seq', 'at', 'actorId', 'action', 'resourceId', 'requestId', 'grantId', 'details', 'prevHash', 'hash', 'subjectId', 'v'] as const;

export async function exportAudit(store: Pick<Store, 'read'>, format: 'jsonl' | 'csv', range: { from?: number; to?: number }, out: Writable): Promise<number> {
  let n = 0;
  let chunk = format === 'csv' ? CSV_COLUMNS.join(',') + '\n' : '';
  const flush = async () => {
    if (!chunk) return;
    const ok = out.write(chunk);
    chunk = '';
    if (!ok) await new Promise<void>((r) => out.once('drain', r));
  };
  // one read snapshot for the whole export: the rows of a log that grows meanwhile are never mixed
  return store.read(async (tx) => {
    for await (const stored of tx.audit.iterate(range)) {
      const { storedSubjectId: _s, live: _l, ...e } = stored;
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
  });
}
