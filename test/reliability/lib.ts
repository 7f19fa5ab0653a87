// Shared pieces of the reliability suites: a workspace with the test policy and CLI-issued tokens,
// a tolerant HTTP client (a killed server is an expected outcome, not a test error), the
// database-level invariants every suite checks, and a line of figures per suite for docs/SECURITY.md.
import Database from 'better-sqlite3';
import pg from 'pg';
import { appendFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { cli, ROOT, SERVER_JS, spawnServer, tempDir, writePolicy, type SpawnedServer } from '../helpers/server.js';
import { testDatabase, testPgPassword } from '../helpers/backend.js';
import { TEST_POLICY, USERS } from '../helpers/policy.js';
import { describeProblem } from '../../server/cli/verify.js';
import { isPostgresUrl, openStore } from '../../server/store/open.js';
import { verifyAudit } from '../../server/store/sqlite/stateCheck.js';

export { TEST_POLICY, USERS };

/**
 * spawnServer() blanks ELEVATE_HOST in the child's environment, and main.ts at 56e1242 takes the
 * empty string as a host (refusing to listen on ""); naming the loopback host works either way.
 */
export const HOST = ['--host', '127.0.0.1'];

export interface Workspace {
  dir: string;
  policyPath: string;
  /** the suite's database: a SQLite file in dir, or (reliability-pg) a fresh PostgreSQL database */
  db: TestDb;
  tokens: Record<string, string>;
}

/** A fresh directory with the policy, a database and one CLI-issued token per user. */
export async function workspace(prefix: string, policy = TEST_POLICY, users: readonly string[] = USERS): Promise<Workspace> {
  const dir = tempDir(`elevate-${prefix}-`);
  const policyPath = writePolicy(dir, policy);
  const db = await testDatabase(dir);
  const tokens: Record<string, string> = {};
  for (const u of users) {
    const r = cli(['token', 'issue', u, '--config', policyPath, ...db.args]);
    if (r.code !== 0) throw new Error(`token issue ${u} failed: ${r.stderr}`);
    tokens[u] = r.stdout.trim();
  }
  return { dir, policyPath, db, tokens };
}

/** `elevate-server start` on the workspace's database (the password by file, never in argv). */
export function startServer(ws: Workspace, o: { t?: { after(fn: () => unknown): void }; args?: string[] } = {}): Promise<SpawnedServer> {
  return spawnServer({ policyPath: ws.policyPath, dbPath: ws.db.spec, t: o.t, args: [...HOST, ...beyondDb(ws.db), ...(o.args ?? [])] });
}

/** A database's CLI flags other than `--db <spec>` (spawnServer passes that itself): --db-password-file. */
export const beyondDb = (db: TestDb) => db.args.filter((a, i, all) => a !== '--db' && all[i - 1] !== '--db');

export interface Res<T = any> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
}

/** fetch as a user's token; a network failure (e.g. the server was killed) resolves to status 0. */
export async function call<T = any>(url: string, token: string | null, method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Res<T>> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  try {
    const res = await fetch(url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed as T, text, headers: res.headers };
  } catch {
    return { status: 0, body: undefined as T, text: '', headers: new Headers() };
  }
}

/** node:http request from a chosen loopback source address (the failure limiter is per client address). */
export function rawRequest(
  url: string,
  o: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer; localAddress?: string; timeoutMs?: number },
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    // always frame a body with Content-Length: node's client sends GET/DELETE/OPTIONS bodies unframed
    const headers = o.body !== undefined ? { ...o.headers, 'content-length': String(Buffer.byteLength(o.body)) } : o.headers;
    const req = httpRequest(
      { host: u.hostname, port: u.port, method: o.method ?? 'GET', path: o.path, headers, localAddress: o.localAddress, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.setTimeout(o.timeoutMs ?? 10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (o.body !== undefined) req.write(o.body);
    req.end();
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export const rnd = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));
export const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)];

/** Asserts the contract's error shape for a 4xx/5xx body; returns a problem or null. */
export function errorShapeProblem(status: number, body: unknown): string | null {
  const e = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
  if (!e || typeof e.code !== 'string' || typeof e.message !== 'string' || (e.details !== undefined && !Array.isArray(e.details))) {
    return `${status} without the error shape: ${JSON.stringify(body)?.slice(0, 200)}`;
  }
  const expected: Record<string, number[]> = {
    // 431: request line or headers over Node's 16 KiB, answered before the app (main.ts);
    // 421: a Host the server does not answer to (server/http/host.ts)
    invalid_request: [400, 421, 431],
    unauthenticated: [401],
    forbidden: [403],
    self_approval: [403],
    not_found: [404],
    conflict: [409],
    payload_too_large: [413],
    policy_violation: [422],
    rate_limited: [429],
    unavailable: [503],
    internal: [500],
  };
  if (!expected[e.code]?.includes(status)) return `${status} with code ${e.code}`;
  return null;
}

/** A dist/server.js command without blocking this process (load generated here keeps running). */
export function cliAsync(args: string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [SERVER_JS, ...args],
      { cwd: ROOT, timeout: timeoutMs, env: { ...process.env, ELEVATE_CONFIG: '', ELEVATE_DB: '' } },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

// ---------- the database, on either backend ----------

/** Where a suite's server keeps its data (test/helpers/backend.ts): a SQLite file or a fresh PostgreSQL database. */
export type TestDb = Awaited<ReturnType<typeof testDatabase>>;

/**
 * Raw SQL on the test database, for what the API does not show (rows, the audit table) and for
 * injecting faults. The one place that knows both dialects: statements are written with `?`
 * placeholders and the SQL both engines accept; bigint columns come back as numbers on both.
 */
export interface Sql {
  readonly kind: 'sqlite' | 'postgres';
  all<T = Record<string, any>>(sql: string, ...params: unknown[]): Promise<T[]>;
  get<T = Record<string, any>>(sql: string, ...params: unknown[]): Promise<T | undefined>;
  /** statements without parameters (DDL, fault injection) */
  exec(sql: string): Promise<void>;
  /** runs fn's reads in one snapshot, even while a running server commits */
  snapshot<T>(fn: () => Promise<T>): Promise<T>;
  /** every row of every table, as text (for scans that no secret is stored in plaintext) */
  allRowsText(): Promise<string>;
  /** the product's own state check (`audit verify --state`), as problem lines */
  productStateProblems(): Promise<string[]>;
  close(): Promise<void>;
}

/** A database given by spec; on PostgreSQL the password is the suite cluster's unless given. */
export async function openSql(db: { spec: string; password?: string }, o: { readonly?: boolean } = {}): Promise<Sql> {
  if (!isPostgresUrl(db.spec)) {
    const sqlite = new Database(db.spec, { readonly: o.readonly ?? false, fileMustExist: true });
    const allRowsText = async (tables: string[]) => tables.map((t) => JSON.stringify(sqlite.prepare(`SELECT * FROM "${t}"`).all())).join('\n');
    return {
      kind: 'sqlite',
      all: async <T>(sql: string, ...params: unknown[]) => sqlite.prepare(sql).all(...params) as T[],
      get: async <T>(sql: string, ...params: unknown[]) => sqlite.prepare(sql).get(...params) as T | undefined,
      exec: async (sql) => void sqlite.exec(sql),
      async snapshot(fn) {
        sqlite.exec('BEGIN');
        try {
          return await fn();
        } finally {
          sqlite.exec('COMMIT');
        }
      },
      allRowsText: () => allRowsText(sqlite.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).pluck().all() as string[]),
      productStateProblems: async () => (verifyAudit(sqlite, { state: true }).state?.problems ?? []).map(describeProblem),
      close: async () => void sqlite.close(),
    };
  }
  const password = db.password ?? testPgPassword();
  const u = new URL(db.spec);
  // fields, not a connectionString: pg lets the URL's (absent) password override `password`
  const client = new pg.Client({
    host: u.hostname,
    port: Number(u.port),
    user: decodeURIComponent(u.username),
    database: u.pathname.slice(1),
    password,
    types: { getTypeParser: (oid: number, format?: 'text' | 'binary') => (oid === 20 ? Number : pg.types.getTypeParser(oid, format as 'text')) },
  });
  await client.connect();
  const numbered = (sql: string) => {
    let n = 0;
    return sql.replace(/\?/g, () => `$${++n}`);
  };
  const all = async <T>(sql: string, ...params: unknown[]) => (await client.query(numbered(sql), params)).rows as T[];
  const allRowsText = async (tables: string[]) => {
    const texts: string[] = [];
    for (const t of tables) texts.push(JSON.stringify(await all(`SELECT * FROM "${t}"`)));
    return texts.join('\n');
  };
  return {
    kind: 'postgres',
    all,
    get: async <T>(sql: string, ...params: unknown[]) => (await all<T>(sql, ...params))[0],
    exec: async (sql) => void (await client.query(sql)),
    async snapshot(fn) {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      try {
        return await fn();
      } finally {
        await client.query('COMMIT');
      }
    },
    allRowsText: async () =>
      allRowsText((await all<{ t: string }>('SELECT tablename AS t FROM pg_tables WHERE schemaname = current_schema()')).map((r) => r.t)),
    async productStateProblems() {
      const store = await openStore(db.spec, { role: 'cli', password, migrate: false });
      try {
        return ((await store.verifyAudit({ state: true })).state?.problems ?? []).map(describeProblem);
      } finally {
        await store.close();
      }
    },
    close: () => client.end(),
  };
}

/** Opens the database, runs fn, closes it. */
export async function withSql<T>(db: { spec: string; password?: string }, fn: (sql: Sql) => Promise<T>, o: { readonly?: boolean } = {}): Promise<T> {
  const sql = await openSql(db, o);
  try {
    return await fn(sql);
  } finally {
    await sql.close();
  }
}

/** SQLite's integrity_check of the file (PostgreSQL has no file of ours to check). */
export function integrityCheck(dbPath: string): string {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ');
  } finally {
    db.close();
  }
}

/** `audit verify` through the real CLI: exit code and output. `db` is a SQLite path or a test database. */
export function auditVerify(db: string | TestDb, extra: string[] = []) {
  const r = cli(['audit', 'verify', ...(typeof db === 'string' ? ['--db', db] : db.args), ...extra]);
  return { code: r.code, out: `${r.stdout}${r.stderr}`.trim() };
}

interface EventRow {
  seq: number;
  action: string;
  actor_id: string;
  request_id: string | null;
  grant_id: string | null;
  details: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Rule 3 read back from the database: every row's state is told by its audit events, and every
 * event names a row that exists. Returns one line per disagreement.
 */
export async function stateAuditProblems(db: Sql): Promise<string[]> {
  // one snapshot, even while a running server's sweep commits
  const problems = await db.snapshot(() => stateAuditProblemsIn(db));
  // the product's own state check must agree under every load these suites make
  for (const p of await db.productStateProblems()) problems.push(`state check: ${p}`);
  return problems;
}

async function stateAuditProblemsIn(db: Sql): Promise<string[]> {
  const problems: string[] = [];
  const events = await db.all<EventRow>('SELECT seq, action, actor_id, request_id, grant_id, details FROM audit ORDER BY seq');
  const byRequest = new Map<string, EventRow[]>();
  const byGrant = new Map<string, EventRow[]>();
  for (const e of events) {
    if (e.request_id) (byRequest.get(e.request_id) ?? byRequest.set(e.request_id, []).get(e.request_id)!).push(e);
    if (e.grant_id) (byGrant.get(e.grant_id) ?? byGrant.set(e.grant_id, []).get(e.grant_id)!).push(e);
  }
  const requests = await db.all('SELECT * FROM requests');
  const grants = await db.all('SELECT * FROM grants');
  const approvals = await db.all('SELECT * FROM approvals');
  const requestIds = new Set(requests.map((r) => r.id));
  const grantIds = new Set(grants.map((g) => g.id));
  const approvalsBy = new Map<string, string[]>();
  for (const a of approvals) (approvalsBy.get(a.request_id) ?? approvalsBy.set(a.request_id, []).get(a.request_id)!).push(`${a.approver_id}:${a.decision}`);

  for (const r of requests) {
    const evs = byRequest.get(r.id) ?? [];
    const n = (a: string) => evs.filter((e) => e.action === a).length;
    if (n('request.created') !== 1) problems.push(`request ${r.id}: ${n('request.created')} request.created events`);
    const decisions = evs.filter((e) => ['request.approved', 'request.denied', 'request.cancelled', 'request.expired'].includes(e.action));
    if (r.status === 'pending') {
      if (decisions.length) problems.push(`request ${r.id} is pending but has ${decisions.map((e) => e.action).join(', ')}`);
    } else if (decisions.length !== 1 || decisions[0].action !== `request.${r.status}`) {
      problems.push(`request ${r.id} is ${r.status} but its decision events are [${decisions.map((e) => e.action).join(', ')}]`);
    }
    const byApprovers = evs
      .filter(
        (e) =>
          e.action === 'request.approval_recorded' ||
          e.action === 'request.denied' ||
          (e.action === 'request.approved' && JSON.parse(e.details).how === 'approvers'),
      )
      .map((e) => `${e.actor_id}:${e.action === 'request.denied' ? 'deny' : 'approve'}`)
      .sort();
    const rows = (approvalsBy.get(r.id) ?? []).sort();
    if (byApprovers.join() !== rows.join()) problems.push(`request ${r.id}: approvals rows [${rows}] but approver events [${byApprovers}]`);
  }
  for (const g of grants) {
    const evs = byGrant.get(g.id) ?? [];
    const activated = evs.filter((e) => e.action === 'grant.activated');
    if (activated.length !== 1) problems.push(`grant ${g.id}: ${activated.length} grant.activated events`);
    const ends = evs.filter((e) => ['grant.expired', 'grant.revoked', 'grant.relinquished', 'grant.failed'].includes(e.action));
    if (g.status === 'active') {
      if (ends.length) problems.push(`grant ${g.id} is active but has ${ends.map((e) => e.action).join(', ')}`);
    } else if (ends.length !== 1 || ends[0].action !== `grant.${g.status}`) {
      problems.push(`grant ${g.id} is ${g.status} but its end events are [${ends.map((e) => e.action).join(', ')}]`);
    }
    const extended = evs.filter((e) => e.action === 'grant.extended');
    if (extended.length !== g.extensions) problems.push(`grant ${g.id}: extensions=${g.extensions} but ${extended.length} grant.extended events`);
    const last = [...activated, ...extended].sort((a, b) => a.seq - b.seq).at(-1);
    if (last && JSON.parse(last.details).expiresAt !== iso(g.expires_at)) {
      problems.push(`grant ${g.id}: expires_at ${iso(g.expires_at)} but the last event says ${JSON.parse(last.details).expiresAt}`);
    }
    const req = requests.find((r) => r.id === g.request_id);
    if (!req || req.status !== 'approved' || req.grant_id !== g.id)
      problems.push(`grant ${g.id}: its request ${g.request_id} is not an approved request for it`);
  }
  for (const e of events) {
    if (e.request_id && !requestIds.has(e.request_id)) problems.push(`event ${e.seq} ${e.action}: request ${e.request_id} does not exist`);
    if (e.grant_id && !grantIds.has(e.grant_id)) problems.push(`event ${e.seq} ${e.action}: grant ${e.grant_id} does not exist`);
  }
  const tokens = await db.all<{ id: string; revoked_at: number | null }>('SELECT id, revoked_at FROM tokens');
  const issued = new Set(events.filter((e) => e.action === 'token.issued').map((e) => JSON.parse(e.details).tokenId));
  const revoked = new Set(events.filter((e) => e.action === 'token.revoked').map((e) => JSON.parse(e.details).tokenId));
  for (const t of tokens) {
    if (!issued.has(t.id)) problems.push(`token ${t.id} has no token.issued event`);
    if ((t.revoked_at !== null) !== revoked.has(t.id))
      problems.push(`token ${t.id}: revoked_at=${t.revoked_at} but token.revoked event ${revoked.has(t.id) ? 'present' : 'absent'}`);
  }
  if (issued.size !== tokens.length) problems.push(`${issued.size} token.issued events for ${tokens.length} tokens`);
  return problems;
}

/** Grants still marked active although they ended more than `graceMs` ago. */
export function overdueActiveGrants(db: Sql, now: number, graceMs: number): Promise<{ id: string; expires_at: number }[]> {
  return db.all(`SELECT id, expires_at FROM grants WHERE status = 'active' AND expires_at <= ?`, now - graceMs);
}

// ---------- process probes ----------

export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

// ---------- figures ----------

/** Appends one JSON line of figures to test-artifacts/reliability/figures.jsonl and prints it. */
export function report(suite: string, figures: Record<string, unknown>): void {
  const line = JSON.stringify({ suite, at: new Date().toISOString(), ...figures });
  console.log(`[figures] ${line}`);
  try {
    const dir = join(ROOT, 'test-artifacts', 'reliability');
    mkdirSync(dir, { recursive: true });
    appendFileSync(join(dir, 'figures.jsonl'), line + '\n');
  } catch {
    /* figures are a convenience; the test result does not depend on them */
  }
}
