// Databases and policies for the bench. The schema comes from the server itself (its CLI
// creates and migrates the DB); audit rows are hash-chained with the server's own hashEvent,
// bundled from server/store/auditChain.ts into bench/.build so the chain is exactly the server's.
import Database from 'better-sqlite3';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(here, '..', '..');
const BUILD = join(here, '..', '.build');

let auditModule;
/** The server's audit chain (hashEvent, canonicalJson, GENESIS, HASH_FORMAT), bundled on first use. */
export async function serverAudit() {
  if (auditModule) return auditModule;
  mkdirSync(BUILD, { recursive: true });
  const out = join(BUILD, 'audit.cjs');
  await esbuild.build({
    entryPoints: [join(ROOT, 'server/store/auditChain.ts')],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['better-sqlite3'],
    logLevel: 'warning',
  });
  auditModule = createRequire(import.meta.url)(out);
  return auditModule;
}

export const USERS_N = 50;

/** A policy: service account, admin (+auditor), an approver, requesters u0..u49 in "devs". */
export function writePolicy(file) {
  const users = [
    { id: 'svc', roles: ['service'] },
    { id: 'admin', roles: ['admin', 'auditor'] },
    { id: 'approver', groups: ['approvers'] },
    ...Array.from({ length: USERS_N }, (_, i) => ({ id: `u${i}`, groups: ['devs'] })),
  ];
  const resources = [
    {
      id: 'auto',
      roles: ['read'],
      maxDuration: '8h',
      approval: { approvers: ['group:approvers'], autoApprove: [{ roles: ['read'], maxDuration: '8h', groups: ['devs'] }] },
    },
    { id: 'manual', roles: ['read'], maxDuration: '8h', pendingTtl: '2d', approval: { approvers: ['group:approvers'], required: 1 } },
    ...Array.from({ length: 18 }, (_, i) => ({ id: `r${i}`, roles: ['read', 'write'], maxDuration: '4h' })),
  ];
  writeFileSync(file, JSON.stringify({ users, resources }, null, 1));
}

/** Inserts tokens straight into the tokens table (as the CLI would, minus its audit event). */
export function addTokens(dbFile, userId, n) {
  const db = new Database(dbFile);
  const ins = db.prepare('INSERT INTO tokens (id, user_id, hash, label, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)');
  const out = [];
  const now = Date.now();
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const token = `elv_${randomBytes(32).toString('base64url')}`;
      ins.run(`tok_bench${randomBytes(6).toString('hex')}`, userId, createHash('sha256').update(token).digest(), 'bench', now, now + 86400_000);
      out.push(token);
    }
  })();
  db.close();
  return out;
}

/** n active grants (with their approved requests) on resource "auto" that all ended in the last `spreadMs`. */
export function fillDueGrants(dbFile, n, spreadMs = 3_600_000) {
  const db = new Database(dbFile);
  db.pragma('journal_mode = WAL');
  const now = Date.now();
  const insR = db.prepare(`INSERT INTO requests (id, kind, requester_id, resource_id, role, duration_s, justification, ticket, status, grant_id,
    required, auto_approved, break_glass, evaluation, created_at, decided_at, pending_until)
    VALUES (?, 'access', ?, 'auto', 'read', ?, 'bench', NULL, 'approved', ?, 1, 1, 0, '{"reasons":[]}', ?, ?, ?)`);
  const insG = db.prepare(`INSERT INTO grants (id, request_id, user_id, resource_id, role, starts_at, expires_at, max_expires_at, status, warned)
    VALUES (?, ?, ?, 'auto', 'read', ?, ?, ?, 'active', 3)`);
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const exp = now - 1000 - Math.floor((i / n) * spreadMs);
      const start = exp - 3600_000;
      const rid = `req_due${i.toString(36).padStart(8, '0')}`;
      const gid = `grt_due${i.toString(36).padStart(8, '0')}`;
      const user = `u${i % USERS_N}`;
      insR.run(rid, user, 3600, gid, start, start, start + 3600_000);
      insG.run(gid, rid, user, start, exp, start + 16 * 3600_000);
    }
  })();
  db.close();
}

/** n active grants on "auto" ending evenly in [t0, t0 + windowMs), written while the server runs. */
export function craftGrants(dbFile, n, t0, windowMs) {
  const db = new Database(dbFile);
  db.pragma('busy_timeout = 5000');
  const now = Date.now();
  const insR = db.prepare(`INSERT INTO requests (id, kind, requester_id, resource_id, role, duration_s, justification, ticket, status, grant_id,
    required, auto_approved, break_glass, evaluation, created_at, decided_at, pending_until)
    VALUES (?, 'access', ?, 'auto', 'read', ?, 'bench', NULL, 'approved', ?, 1, 1, 0, '{"reasons":[]}', ?, ?, ?)`);
  const insG = db.prepare(`INSERT INTO grants (id, request_id, user_id, resource_id, role, starts_at, expires_at, max_expires_at, status, warned)
    VALUES (?, ?, ?, 'auto', 'read', ?, ?, ?, 'active', 3)`);
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const exp = Math.floor(t0 + (i / n) * windowMs);
      const rid = `req_exp${i.toString(36).padStart(8, '0')}`;
      const gid = `grt_exp${i.toString(36).padStart(8, '0')}`;
      const user = `u${i % USERS_N}`;
      insR.run(rid, user, Math.ceil((exp - now) / 1000), gid, now, now, now + 3600_000);
      insG.run(gid, rid, user, now, exp, now + 16 * 3600_000);
    }
  }).immediate();
  db.close();
}

/** n pending requests by `requester` on "manual" (as POST /v1/requests would leave them); returns their ids. */
export function craftPending(dbFile, n, requester) {
  const db = new Database(dbFile);
  db.pragma('busy_timeout = 5000');
  const now = Date.now();
  const ins = db.prepare(`INSERT INTO requests (id, kind, requester_id, resource_id, role, duration_s, justification, ticket, status, grant_id,
    required, auto_approved, break_glass, evaluation, created_at, decided_at, pending_until)
    VALUES (?, 'access', ?, 'manual', 'read', 3600, 'bench', NULL, 'pending', NULL, 1, 0, 0, '{"reasons":[]}', ?, NULL, ?)`);
  const ids = Array.from({ length: n }, (_, i) => `req_pend${i.toString(36).padStart(8, '0')}`);
  db.transaction(() => {
    for (const id of ids) ins.run(id, requester, now, now + 2 * 86400_000);
  }).immediate();
  db.close();
  return ids;
}

const ACTIONS = [
  ['access.checked', 70],
  ['request.created', 6],
  ['request.approved', 6],
  ['grant.activated', 6],
  ['grant.expired', 5],
  ['grant.expiring', 4],
  ['auth.failed', 1],
  ['grant.relinquished', 1],
  ['request.denied', 1],
];

/**
 * Appends n events to the hash chain (continuing from its head), spread evenly over the last
 * `days` days, actors/subjects over 1,000 users and 20 resources. Returns {seq, hash} of the head.
 */
export async function fillAudit(dbFile, n, { days = 30 } = {}) {
  const { hashEvent, canonicalJson, HASH_FORMAT } = await serverAudit();
  const db = new Database(dbFile);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  let { seq, hash } = db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1').get() ?? { seq: 0, hash: '0'.repeat(64) };
  // in the format the server writes now: a chain the CLI started in format 2 must not go back to 1
  const ins = db.prepare(`INSERT INTO audit (seq, at, actor_id, action, resource_id, request_id, grant_id, subject_id, details, prev_hash, hash, v)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ${HASH_FORMAT})`);
  const wheel = ACTIONS.flatMap(([a, w]) => Array(w).fill(a));
  const end = Date.now() - 60_000;
  const t0 = end - days * 86400_000;
  const step = (end - t0) / n;
  let x = 12345;
  const rnd = (m) => ((x = (x * 1103515245 + 12345) & 0x7fffffff), x % m);
  const BATCH = 50_000;
  for (let b = 0; b < n; b += BATCH) {
    db.transaction(() => {
      for (let i = b; i < Math.min(n, b + BATCH); i++) {
        seq++;
        const atMs = Math.floor(t0 + i * step);
        const at = new Date(atMs).toISOString();
        const action = wheel[rnd(wheel.length)];
        const user = `user${rnd(1000)}`;
        const resource = `res${rnd(20)}`;
        const g = `grt_${(i >> 2).toString(36).padStart(10, '0')}`;
        const r = `req_${(i >> 2).toString(36).padStart(10, '0')}`;
        let actor = user;
        let details;
        let requestId = null;
        let grantId = null;
        let resourceId = resource;
        if (action === 'access.checked') {
          actor = 'svc';
          details = { userId: user, role: 'read', allowed: i % 3 !== 0, ...(i % 3 !== 0 && { expiresAt: new Date(atMs + 1800_000).toISOString() }) };
          if (i % 3 !== 0) grantId = g;
        } else if (action === 'auth.failed') {
          actor = 'anonymous';
          resourceId = null;
          details = { ip: '127.0.0.1', userAgent: 'bench', path: '/v1/me', reason: 'invalid, expired or revoked token' };
        } else if (action.startsWith('request.')) {
          requestId = r;
          if (action !== 'request.created') actor = 'approver';
          details =
            action === 'request.created'
              ? {
                  kind: 'access',
                  role: 'read',
                  durationSeconds: 3600,
                  justification: 'investigating incident INC-1234',
                  ticket: null,
                  breakGlass: false,
                  reasons: [],
                  ip: '127.0.0.1',
                  userAgent: 'vscode',
                }
              : { how: 'manual', comment: 'ok' };
        } else {
          requestId = r;
          grantId = g;
          if (action !== 'grant.relinquished') actor = 'system';
          details = { userId: user, role: 'read', startsAt: at, expiresAt: new Date(atMs + 3600_000).toISOString() };
        }
        const canon = canonicalJson(details);
        const h = hashEvent(hash, { seq, at, actorId: actor, action, resourceId, requestId, grantId, subjectId: user, v: HASH_FORMAT }, canon);
        ins.run(seq, atMs, actor, action, resourceId, requestId, grantId, user, canon, hash, h);
        hash = h;
      }
    })();
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return { seq, hash, from: t0, to: end };
}
