// B_pg: raw `pg` costs of the statements Elevate runs on PostgreSQL (no HTTP, no framework, no
// engine), on a database with the store's own schema (migrated by its own migrations), over
// loopback TCP like a replica. The SQL text, the order of the statements in each transaction,
// the advisory-locked audit append and the commit with its NOTIFY mirror server/store/postgres/
// (requests.ts, grants.ts, audit.ts, store.ts) as the engine calls them; the audit rows are
// sealed by the shared chain code (server/store/auditChain.ts sealEvents), as the store does.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { pgTypes } from './pg.mjs';

const LOCK_CLASS = 0x454c4556; // server/store/postgres/locks.ts
const LOCK_AUDIT = 1;
const CHANNEL = 'elevate_commits';

const named = (name, text) => ({ name: `bench_${name}`, text });
const S = {
  reqGet: named('req_get', 'SELECT * FROM requests WHERE id = $1'),
  reqInsert: named(
    'req_insert',
    `INSERT INTO requests (id, kind, requester_id, resource_id, role, duration_s, justification, ticket, status,
      grant_id, required, auto_approved, break_glass, evaluation, created_at, decided_at, pending_until)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
  ),
  decide: named('decide', 'UPDATE requests SET status = $1, decided_at = $2, grant_id = COALESCE($3, grant_id) WHERE id = $4 AND status = $5'),
  approvalsOf: named('approvals_of', 'SELECT * FROM approvals WHERE request_id = $1 ORDER BY at, approver_id'),
  lockRequest: named('lock_request', 'SELECT 1 FROM requests WHERE id = $1 FOR UPDATE'),
  addApproval: named(
    'add_approval',
    `INSERT INTO approvals (request_id, approver_id, decision, comment, at) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (request_id, approver_id) DO NOTHING`,
  ),
  grantGet: named('grant_get', 'SELECT * FROM grants WHERE id = $1'),
  grantInsert: named(
    'grant_insert',
    `INSERT INTO grants (id, request_id, user_id, resource_id, role, starts_at, expires_at, max_expires_at, status)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active')`,
  ),
  setWarned: named('set_warned', 'UPDATE grants SET warned = $2 WHERE id = $1'),
  check: named(
    'check',
    `SELECT id, expires_at FROM grants WHERE status = 'active' AND user_id = $1 AND resource_id = $2 AND role = $3 AND expires_at > $4
    ORDER BY expires_at DESC LIMIT 1`,
  ),
  auditInsert: named(
    'audit_insert',
    `INSERT INTO audit (seq, at, actor_id, action, resource_id, request_id, grant_id, subject_id, details, prev_hash, hash, live, v)
    SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
      $9::text[], $10::text[], $11::text[], $12::text[], $13::integer[])`,
  ),
  // simple protocol, two statements in one round trip (audit.ts lockAndHead)
  lockAndHead: `SELECT pg_advisory_xact_lock(${LOCK_CLASS}, ${LOCK_AUDIT}); SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`,
};

const newId = (p) => `${p}_${randomBytes(9).toString('base64url')}`;
const iso = (ms) => new Date(ms).toISOString();

/**
 * One transaction as PgStore.transaction runs it: BEGIN, the work, the audit append under the
 * advisory lock (head read after the lock, rows sealed by the shared chain code, one INSERT …
 * unnest), then NOTIFY + COMMIT in one round trip.
 */
function unitOfWork(client, { sealEvents, GENESIS }, mark) {
  const q = (s, values) => client.query({ ...s, values }).then((r) => r.rows);
  return async (work) => {
    await client.query('BEGIN');
    try {
      const events = await work(q);
      const res = await client.query(S.lockAndHead);
      const head = res[1].rows[0] ?? { seq: 0, hash: GENESIS };
      const { rows } = sealEvents(head, events);
      const cols = Array.from({ length: 13 }, () => []);
      for (const r of rows) {
        const v = [r.seq, r.at, r.actorId, r.action, r.resourceId, r.requestId, r.grantId, r.subjectId, r.details, r.prevHash, r.hash, r.live, r.v];
        for (let i = 0; i < 13; i++) cols[i].push(v[i]);
      }
      await client.query({ ...S.auditInsert, values: cols });
      await client.query(`SELECT pg_notify('${CHANNEL}', '${mark}${rows.at(-1).seq}'); COMMIT`);
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      throw e;
    }
  };
}

/** The auto-approved request, in the order the engine runs it (createRequest → approveAndActivate). */
async function createTx(q, now) {
  const req = newId('req');
  const grant = newId('grt');
  await q(S.reqInsert, [
    req,
    'access',
    'u1',
    'auto',
    'read',
    3600,
    'bench: investigating a slow query',
    null,
    'pending',
    null,
    1,
    true,
    false,
    '{"reasons":["auto-approved"]}',
    now,
    null,
    now + 86400_000,
  ]);
  await q(S.reqGet, [req]);
  await q(S.decide, ['approved', now, grant, req, 'pending']);
  await q(S.grantInsert, [grant, req, 'u1', 'auto', 'read', now, now + 3600_000, now + 3600_000]);
  await q(S.setWarned, [grant, 0]);
  // the answer: request (with its approvals) and grant as they are now
  await q(S.reqGet, [req]);
  await q(S.approvalsOf, [req]);
  await q(S.grantGet, [grant]);
  // each stream event's live payload, read at the end of the transaction
  const r1 = (await q(S.reqGet, [req]))[0];
  await q(S.approvalsOf, [req]);
  const r2 = (await q(S.reqGet, [req]))[0];
  await q(S.approvalsOf, [req]);
  const g = (await q(S.grantGet, [grant]))[0];
  const ids = { resourceId: 'auto', requestId: req, subjectId: 'u1' };
  return [
    {
      at: now,
      actorId: 'u1',
      action: 'request.created',
      ...ids,
      live: JSON.stringify(r1),
      details: {
        kind: 'access',
        role: 'read',
        durationSeconds: 3600,
        justification: 'bench: investigating a slow query',
        ticket: null,
        breakGlass: false,
        reasons: ['auto-approved'],
        required: 1,
        autoApproved: true,
        pendingUntil: iso(now + 86400_000),
        ip: '127.0.0.1',
        userAgent: null,
      },
    },
    { at: now, actorId: 'system', action: 'request.approved', ...ids, grantId: grant, live: JSON.stringify(r2), details: { how: 'auto', breakGlass: false } },
    {
      at: now,
      actorId: 'system',
      action: 'grant.activated',
      ...ids,
      grantId: grant,
      live: JSON.stringify(g),
      details: { userId: 'u1', role: 'read', startsAt: iso(now), expiresAt: iso(now + 3600_000), breakGlass: false },
    },
  ];
}

/** An approval that completes a pending request (decide → approveAndActivate). */
async function approveTx(q, now, req) {
  const grant = newId('grt');
  await q(S.reqGet, [req]);
  await q(S.approvalsOf, [req]);
  await q(S.lockRequest, [req]);
  await q(S.addApproval, [req, 'approver', 'approve', 'ok', now]);
  await q(S.reqGet, [req]);
  await q(S.decide, ['approved', now, grant, req, 'pending']);
  await q(S.grantInsert, [grant, req, 'u1', 'manual', 'read', now, now + 3600_000, now + 3600_000]);
  await q(S.setWarned, [grant, 0]);
  await q(S.reqGet, [req]);
  await q(S.approvalsOf, [req]);
  await q(S.grantGet, [grant]);
  const r = (await q(S.reqGet, [req]))[0];
  await q(S.approvalsOf, [req]);
  const g = (await q(S.grantGet, [grant]))[0];
  const ids = { resourceId: 'manual', requestId: req, subjectId: 'u1', grantId: grant };
  return [
    {
      at: now,
      actorId: 'approver',
      action: 'request.approved',
      ...ids,
      live: JSON.stringify(r),
      details: { how: 'approvers', comment: 'ok', approvers: ['approver'], required: 1, ip: '127.0.0.1', userAgent: null },
    },
    {
      at: now,
      actorId: 'approver',
      action: 'grant.activated',
      ...ids,
      live: JSON.stringify(g),
      details: { userId: 'u1', role: 'read', startsAt: iso(now), expiresAt: iso(now + 3600_000), breakGlass: false },
    },
  ];
}

/**
 * Measures each operation two ways: one after another on one connection (latency of the
 * statements themselves) and `inFlight` at once on a pool of `poolSize` connections for
 * `seconds` (throughput, with this process's CPU and the cluster's CPU per operation).
 */
export async function pgBaselines(url, chain, { quick, short, seconds, inFlight = 16, poolSize = 10, clusterCpuMs }) {
  const pool = new pg.Pool({ connectionString: url, types: pgTypes, max: poolSize });
  // a replica follows commits on a connection of its own (LISTEN); so does the baseline
  const listener = new pg.Client({ connectionString: url });
  await listener.connect();
  await listener.query(`LISTEN ${CHANNEL}`);
  const mark = `${randomBytes(4).toString('hex')}:`;
  const seqN = short ? 100 : quick ? 300 : 2000;
  const out = {};
  try {
    const clients = await Promise.all(Array.from({ length: poolSize }, () => pool.connect()));
    const uows = clients.map((c) => unitOfWork(c, chain, mark));
    // pending requests to approve: enough for every approval measured below
    const pending = [];
    const addPending = async (n) => {
      const c = clients[0];
      const now = Date.now();
      const ids = Array.from({ length: n }, () => newId('req'));
      await c.query(
        `INSERT INTO requests (id, kind, requester_id, resource_id, role, duration_s, justification, ticket, status, grant_id, required,
          auto_approved, break_glass, evaluation, created_at, decided_at, pending_until)
        SELECT id, 'access', 'u1', 'manual', 'read', 3600, 'bench', NULL, 'pending', NULL, 1, false, false, '{"reasons":[]}', $2, NULL, $3 FROM unnest($1::text[]) AS id`,
        [ids, now, now + 86400_000],
      );
      pending.push(...ids);
    };
    // the check finds one grant among 2,000 other users' grants
    {
      const now = Date.now();
      await clients[0].query(
        `INSERT INTO grants (id, request_id, user_id, resource_id, role, starts_at, expires_at, max_expires_at, status)
        SELECT 'grt_chk' || i, 'req_chk' || i, 'c' || i, 'auto', 'read', $1, $2, $2, 'active' FROM generate_series(0, 1999) AS i`,
        [now, now + 3600_000],
      );
    }

    const ops = {
      check: (i) => clients[i].query({ ...S.check, values: ['c7', 'auto', 'read', Date.now()] }),
      create: (i) => uows[i]((q) => createTx(q, Date.now())),
      approve: (i) => uows[i]((q) => approveTx(q, Date.now(), pending.pop())),
      // the access-check audits as the batcher writes them: 100 events a transaction
      audit100: (i) =>
        uows[i](async () => {
          const now = Date.now();
          return Array.from({ length: 100 }, () => ({
            at: now,
            actorId: 'svc',
            action: 'access.checked',
            resourceId: 'auto',
            subjectId: 'u1',
            details: { userId: 'u1', role: 'read', allowed: true },
          }));
        }),
    };
    for (const [name, op] of Object.entries(ops)) {
      const n = name === 'audit100' ? Math.ceil(seqN / 10) : name === 'check' ? seqN * 10 : seqN;
      if (name === 'approve') await addPending(n + 50);
      for (let i = 0; i < Math.min(50, n); i++) await op(0); // warm: plans, caches, connection
      let t = performance.now();
      for (let i = 0; i < n; i++) await op(0);
      const us = ((performance.now() - t) * 1000) / n;

      // concurrent: inFlight workers share the poolSize connections (a connection runs one
      // transaction at a time, like the store's pool); run for `seconds`
      if (name === 'approve') await addPending(quick ? 6000 : 30_000);
      const free = [...clients.keys()];
      const waiters = [];
      const take = () => (free.length ? Promise.resolve(free.pop()) : new Promise((r) => waiters.push(r)));
      const give = (i) => (waiters.length ? waiters.shift()(i) : free.push(i));
      let done = 0;
      const until = performance.now() + seconds * 1000;
      const cpu0 = process.cpuUsage();
      const db0 = clusterCpuMs?.();
      t = performance.now();
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (performance.now() < until && (name !== 'approve' || pending.length)) {
            const i = await take();
            try {
              await op(i);
            } finally {
              give(i);
            }
            done++;
          }
        }),
      );
      const secs = (performance.now() - t) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const db1 = clusterCpuMs?.();
      out[name] = {
        us,
        rate: done / secs,
        clientCpuUs: ((cpu.user + cpu.system) / done) * (name === 'audit100' ? 0.01 : 1),
        dbCpuUs: db0 != null && db1 != null ? (((db1 - db0) * 1000) / done) * (name === 'audit100' ? 0.01 : 1) : null,
        n: done,
      };
      if (name === 'audit100') {
        out[name].us /= 100;
        out[name].rate *= 100;
      }
    }
    for (const c of clients) c.release();
  } finally {
    await listener.end().catch(() => {});
    await pool.end().catch(() => {});
  }
  const line = (o, what) =>
    `${o.us.toFixed(1)} µs one after another on 1 connection; ${Math.round(o.rate).toLocaleString('en')} ${what}/s with ${inFlight} in flight on ${poolSize} connections` +
    ` (CPU per ${what}: client ${o.clientCpuUs.toFixed(0)} µs${o.dbCpuUs != null ? `, PostgreSQL ${o.dbCpuUs.toFixed(0)} µs` : ''})`;
  out.lines = {
    'check SELECT': line(out.check, 'check'),
    'auto-approved request tx (request+grant+3 audit under the advisory lock+reads, NOTIFY+COMMIT)': line(out.create, 'tx'),
    'approve tx (approval under the request lock+grant+2 audit+reads)': line(out.approve, 'tx'),
    'access.checked audit, batched 100/tx': line(out.audit100, 'event'),
  };
  return out;
}
