// B_sql: raw better-sqlite3 costs of the statements Elevate runs (no HTTP, no framework),
// on a database with the server's own schema and pragmas (WAL, synchronous=NORMAL). The SQL
// text mirrors server/store/sqlite/ (repos.ts, audit.ts).
import Database from 'better-sqlite3';
import { hash as digest, randomBytes } from 'node:crypto';
import { fillDueGrants } from './fixtures.mjs';

const time = (n, fn) => {
  for (let i = 0; i < Math.min(200, n); i++) fn(i); // warm
  const t = performance.now();
  for (let i = 0; i < n; i++) fn(i + 1_000_000);
  return ((performance.now() - t) * 1000) / n; // µs per op
};

export async function sqlBaselines(dbFile, { hashEvent, canonicalJson, HASH_FORMAT }, { quick }) {
  const sweepN = quick ? 2000 : 20_000;
  fillDueGrants(dbFile, sweepN);
  const db = new Database(dbFile);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const s = {
    head: db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1'),
    audit: db.prepare(
      `INSERT INTO audit (seq, at, actor_id, action, resource_id, request_id, grant_id, subject_id, details, prev_hash, hash, v) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ${HASH_FORMAT})`,
    ),
    reqById: db.prepare('SELECT * FROM requests WHERE id = ?'),
    insReq:
      db.prepare(`INSERT INTO requests (id, kind, requester_id, resource_id, role, duration_s, justification, ticket, status, grant_id, required, auto_approved, break_glass, evaluation, created_at, decided_at, pending_until)
      VALUES (@id, 'access', 'u1', 'auto', 'read', 3600, 'bench', NULL, 'pending', NULL, 1, 1, 0, '{"reasons":[]}', @now, NULL, @until)`),
    decide: db.prepare('UPDATE requests SET status = ?, decided_at = ?, grant_id = COALESCE(?, grant_id) WHERE id = ? AND status = ?'),
    approvals: db.prepare('SELECT * FROM approvals WHERE request_id = ? ORDER BY at, approver_id'),
    insApproval: db.prepare('INSERT INTO approvals (request_id, approver_id, decision, comment, at) VALUES (?, ?, ?, ?, ?)'),
    insGrant: db.prepare(
      `INSERT INTO grants (id, request_id, user_id, resource_id, role, starts_at, expires_at, max_expires_at, status) VALUES (?, ?, 'u1', 'auto', 'read', ?, ?, ?, 'active')`,
    ),
    grantById: db.prepare('SELECT * FROM grants WHERE id = ?'),
    setWarned: db.prepare('UPDATE grants SET warned = ? WHERE id = ?'),
    check: db.prepare(
      `SELECT id, expires_at FROM grants WHERE status = 'active' AND user_id = ? AND resource_id = ? AND role = ? AND expires_at > ? ORDER BY expires_at DESC LIMIT 1`,
    ),
    expireDue: db.prepare(`UPDATE grants SET status = 'expired', ended_at = expires_at, ended_by = 'system', end_reason = 'expired',
        revoke_pending = resource_id IN (SELECT value FROM json_each(@deprovisioned))
      WHERE id IN (SELECT id FROM grants WHERE status = 'active' AND expires_at <= @now ORDER BY expires_at LIMIT @limit)
      RETURNING *`),
    pendingExts: db.prepare(`SELECT * FROM requests WHERE grant_id IN (SELECT value FROM json_each(?)) AND kind = 'extension' AND status = 'pending'`),
  };
  // like AuditLog.append: the chain's head is read once per transaction, then carried along
  let head = null;
  const append = (now, action, ids, details) => {
    const h = (head ??= s.head.get() ?? { seq: 0, hash: '0'.repeat(64) });
    const seq = h.seq + 1;
    const at = new Date(now).toISOString();
    const canon = canonicalJson(details);
    const hash = hashEvent(
      h.hash,
      { seq, at, actorId: ids.actor, action, resourceId: 'auto', requestId: ids.req ?? null, grantId: ids.grant ?? null, subjectId: 'u1', v: HASH_FORMAT },
      canon,
    );
    s.audit.run(seq, now, ids.actor, action, 'auto', ids.req ?? null, ids.grant ?? null, 'u1', canon, h.hash, hash);
    head = { seq, hash };
  };
  const imm = (fn) => {
    head = null;
    return db.transaction(fn).immediate();
  };
  const out = {};

  // the catch-up sweep as the engine runs it: per batch of 1000, one UPDATE … RETURNING ends the
  // due grants, one query finds their pending extensions, and each gets its audit event
  {
    const t = performance.now();
    for (;;) {
      const n = imm(() => {
        const now = Date.now();
        const ended = s.expireDue.all({ now, limit: 1000, deprovisioned: '[]' }).sort((a, b) => a.expires_at - b.expires_at);
        s.pendingExts.all(JSON.stringify(ended.map((g) => g.id)));
        for (const g of ended) {
          append(
            now,
            'grant.expired',
            { actor: 'system', req: g.request_id, grant: g.id },
            {
              lateMs: now - g.expires_at,
              userId: g.user_id,
              role: g.role,
              startsAt: new Date(g.starts_at).toISOString(),
              expiresAt: new Date(g.expires_at).toISOString(),
              endedAt: new Date(g.expires_at).toISOString(),
            },
          );
        }
        return ended.length;
      });
      if (n < 1000) break;
    }
    out.sweepMsPer100k = ((performance.now() - t) * 100_000) / sweepN;
  }

  // check: one indexed SELECT for a user holding one grant, among 2,000 other users' grants
  const insOther = db.prepare(
    `INSERT INTO grants (id, request_id, user_id, resource_id, role, starts_at, expires_at, max_expires_at, status) VALUES (?, ?, ?, 'auto', 'read', ?, ?, ?, 'active')`,
  );
  imm(() => {
    const now = Date.now();
    for (let i = 0; i < 2000; i++) insOther.run(`grt_chk${i}`, `req_chk${i}`, `c${i}`, now, now + 3600_000, now + 7200_000);
  });
  out.checkUs = time(quick ? 10_000 : 100_000, () => s.check.get('c7', 'auto', 'read', Date.now()));

  // auto-approved request: request + decision + grant + 3 audit events + the reads for the response
  const N = quick ? 800 : 5000;
  const ids = () => randomBytes(8).toString('hex');
  out.createUs = time(N, () => {
    imm(() => {
      const now = Date.now();
      const req = `req_${ids()}`;
      const grant = `grt_${ids()}`;
      s.insReq.run({ id: req, now, until: now + 3600_000 });
      append(
        now,
        'request.created',
        { actor: 'u1', req },
        {
          kind: 'access',
          role: 'read',
          durationSeconds: 3600,
          justification: 'bench',
          ticket: null,
          breakGlass: false,
          reasons: [],
          ip: '127.0.0.1',
          userAgent: null,
        },
      );
      s.reqById.get(req);
      s.decide.run('approved', now, grant, req, 'pending');
      append(now, 'request.approved', { actor: 'system', req, grant }, { how: 'auto', breakGlass: false });
      s.insGrant.run(grant, req, now, now + 3600_000, now + 7200_000);
      s.setWarned.run(0, grant);
      append(
        now,
        'grant.activated',
        { actor: 'system', req, grant },
        { userId: 'u1', role: 'read', startsAt: new Date(now).toISOString(), expiresAt: new Date(now + 3600_000).toISOString(), breakGlass: false },
      );
      s.reqById.get(req);
      s.approvals.all(req);
      s.grantById.get(grant);
    });
  });

  // approve: pending request → approval + decision + grant + 2 audit events + reads
  const pending = [];
  imm(() => {
    const now = Date.now();
    for (let i = 0; i < N + 200; i++) {
      const id = `req_p${ids()}`;
      s.insReq.run({ id, now, until: now + 86400_000 });
      pending.push(id);
    }
  });
  let k = 0;
  out.approveUs = time(N, () => {
    const req = pending[k++];
    imm(() => {
      const now = Date.now();
      const grant = `grt_${ids()}`;
      s.reqById.get(req);
      s.approvals.all(req);
      s.insApproval.run(req, 'approver', 'approve', 'ok', now);
      s.decide.run('approved', now, grant, req, 'pending');
      append(now, 'request.approved', { actor: 'approver', req, grant }, { how: 'manual', comment: 'ok' });
      s.insGrant.run(grant, req, now, now + 3600_000, now + 7200_000);
      s.setWarned.run(0, grant);
      append(
        now,
        'grant.activated',
        { actor: 'approver', req, grant },
        { userId: 'u1', role: 'read', startsAt: new Date(now).toISOString(), expiresAt: new Date(now + 3600_000).toISOString(), breakGlass: false },
      );
      s.reqById.get(req);
      s.approvals.all(req);
      s.grantById.get(grant);
    });
  });

  // one audited access check, written as the batcher does: 100 events per transaction
  out.auditBatchedUs =
    time(quick ? 20 : 100, () => {
      imm(() => {
        const now = Date.now();
        for (let i = 0; i < 100; i++) append(now, 'access.checked', { actor: 'svc' }, { userId: 'u1', role: 'read', allowed: true });
      });
    }) / 100;
  // and one transaction per check (what an unbatched audited read would cost)
  out.auditSingleTxUs = time(quick ? 2000 : 10_000, () =>
    imm(() => append(Date.now(), 'access.checked', { actor: 'svc' }, { userId: 'u1', role: 'read', allowed: true })),
  );

  db.close();
  const us = (v) => `${v.toFixed(1)} µs (${Math.round(1e6 / v).toLocaleString('en')}/s)`;
  out.lines = {
    'check SELECT': us(out.checkUs),
    'auto-approved request tx (request+grant+3 audit+reads)': us(out.createUs),
    'approve tx (approval+grant+2 audit+reads)': us(out.approveUs),
    'access.checked audit, batched 100/tx': us(out.auditBatchedUs),
    'access.checked audit, 1 tx each': us(out.auditSingleTxUs),
    'sweep of 100,000 due grants (1000/tx, audited)': `${out.sweepMsPer100k.toFixed(0)} ms (measured on ${sweepN.toLocaleString('en')})`,
  };
  return out;
}

/**
 * The floor of `audit verify` (B_sql "scan + SHA-256"): read every audit row as verify reads it
 * (the columns it checks, as arrays, 1000 rows per .all() on the primary key) and SHA-256 the
 * previous hash plus the row's stored text once, one-shot. What verify adds on top (building the
 * canonical JSON, formatting the time, comparing, starting the process) is the product's cost.
 */
export function rawVerifyMs(dbFile) {
  const t = performance.now();
  const d = new Database(dbFile, { readonly: true });
  const page = d
    .prepare('SELECT seq, at, actor_id, action, resource_id, request_id, grant_id, details, prev_hash, hash FROM audit WHERE seq > ? ORDER BY seq LIMIT 1000')
    .raw(true);
  let prev = '0'.repeat(64);
  for (let after = -Infinity; ;) {
    const rows = page.all(after);
    for (const [, at, actor, action, resource, request, grant, details] of rows) {
      prev = digest('sha256', `${prev}${at}${actor}${action}${resource}${request}${grant}${details}`, 'hex');
    }
    if (rows.length < 1000) break;
    after = rows[rows.length - 1][0];
  }
  d.close();
  return performance.now() - t;
}
