// What `audit verify` prints: one line for the chain, and with --state one line for the state
// check followed by one line per row the log does not explain. `--format json` prints the
// whole result as one JSON object instead.
import type { AuditVerification } from '../store/types.js';
import type { StateProblem } from '../domain/stateReplay.js';

/** Writes the result; returns the exit code (1 when the chain or the state check failed). */
export function printVerification(r: AuditVerification, format: 'text' | 'json', write: (s: string) => void): number {
  const ok = r.ok && (r.state?.ok ?? true);
  if (format === 'json') {
    write(`${JSON.stringify({ ...r, ok })}\n`);
    return ok ? 0 : 1;
  }
  write(r.ok ? `ok: ${r.count} events, head ${r.headHash}\n` : `FAILED at seq ${r.firstBadSeq}: ${r.problem}\n`);
  const s = r.state;
  if (s) {
    const rows = `${s.rows.requests} requests, ${s.rows.approvals} approvals, ${s.rows.grants} grants, ${s.rows.tokens} tokens, ${s.rows.idpUsers} identity-provider users`;
    if (s.ok) write(`state ok: the log explains all ${rows}\n`);
    else {
      write(`state FAILED: ${s.problems.length} row(s) the log does not explain (of ${rows}):\n`);
      for (const p of s.problems) write(`  ${describeProblem(p)}\n`);
    }
  }
  return ok ? 0 : 1;
}

export function describeProblem(p: StateProblem): string {
  const where = `${p.table} ${p.id}`;
  if (p.kind === 'unexplained') return `${where}: no audit event accounts for this row`;
  if (p.kind === 'missing') return `${where}: the log says this row exists, but it does not`;
  const cols = (p.columns ?? []).map((c) => `${c.column} is ${show(c.column, c.actual)}, the log says ${show(c.column, c.expected)}`);
  return `${where}: ${cols.join('; ')}`;
}

/** Times (epoch ms in *_at and pending_until columns) as ISO; everything else as JSON. */
function show(column: string, v: string | number | null): string {
  if (typeof v === 'number' && (column.endsWith('_at') || column === 'pending_until' || column === 'at') && Number.isFinite(v)) {
    const d = new Date(v);
    if (!Number.isNaN(d.getTime())) return d.toISOString();
  }
  return JSON.stringify(v);
}
