// Test harnesses for the server.
//  - makeServer(): the whole server in-process on a real SQLite file in a fresh temp dir (opened
//    through openStore, as the CLI does), driven through services.app.request() (no port), with a
//    FakeClock that tests move instead of sleeping.
//  - spawnServer(): the bundled CLI (dist/server.js) as a child process on a free loopback port.
//  - openTestSql() / srv.sql: raw SQL on a test database, on either backend, for the few tests
//    that inject storage faults or tamper with rows (everything else reads through the Store API).
// Each runs on SQLite or, under test/helpers/withPostgres.ts, on PostgreSQL (test/helpers/backend.ts).
import { serve } from '@hono/node-server';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Sqlite, { type Database } from 'better-sqlite3';
import pg from 'pg';
import { takenPorts } from '../../server/demo/replicas.js';
import { FakeClock } from '../../server/domain/clock.js';
import { parsePolicy } from '../../server/domain/policy.js';
import type { Policy } from '../../server/domain/types.js';
import { type OpenedStore, type OpenStoreOptions, openStore } from '../../server/store/open.js';
import type { Store, StoredAuditEvent } from '../../server/store/types.js';
import { silentLogger } from '../../server/logger.js';
import { createServices, type Services, type ServicesOptions } from '../../server/services.js';
import { TEST_POLICY } from './policy.js';
import { testDatabase, testPgPassword } from './backend.js';

/** Where a test server's data lives: a SQLite file or a PostgreSQL database (backend.ts testDatabase). */
export type TestDatabase = Awaited<ReturnType<typeof testDatabase>>;

export const ROOT = resolve(__dirname, '..', '..');
export const SERVER_JS = join(ROOT, 'dist', 'server.js');

export function policyOf(yaml: string): Policy {
  const r = parsePolicy(yaml);
  if (!r.ok) throw new Error(`test policy is invalid:\n${r.errors.join('\n')}`);
  return r.policy;
}

const fastTmp = (() => {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
})();
export function tempDir(prefix = 'elevate-test-'): string {
  return mkdtempSync(join(fastTmp, prefix));
}

export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface MakeServerOptions {
  policy?: string;
  clock?: FakeClock;
  options?: ServicesOptions['options'];
  /** reuse an existing directory (its elevate.db), e.g. to reopen after a test closed it */
  dir?: string;
  /** reuse a database (the `db` of an earlier server), e.g. to reopen after a test closed it */
  dbSpec?: TestDatabase;
}

export interface TestServer {
  readonly services: Services;
  readonly clock: FakeClock;
  /** the server's store (what the engine sees) */
  readonly store: Store;
  /**
   * SQLite only: the store's own write connection, for tests that inspect rows with SQL or inject
   * storage faults (triggers, pragmas). Everything else goes through `store`.
   */
  readonly sqlite: Database;
  /**
   * Raw SQL on this server's database, on either backend (opened on first use, closed with the
   * server): for fault injection and tampering. Reads of state belong to `store`.
   */
  readonly sql: TestSql;
  readonly dir: string;
  /** this server's database (for spawned servers, CLI commands and openTestSql on it) */
  readonly db: TestDatabase;
  readonly dbPath: string;
  /** the CLI flags that reach this server's database (--db, and on PostgreSQL --db-password-file) */
  readonly dbArgs: string[];
  /** one token per policy user */
  readonly tokens: Record<string, string>;
  readonly tokenIds: Record<string, string>;
  policy: Policy;
  /**
   * Calls the API as `user` (a policy user id; null for no Authorization header). A string body
   * is sent as is, anything else as JSON; `headers` override the defaults (e.g. authorization).
   */
  call<T = any>(user: string | null, method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Reply<T>>;
  /**
   * Moves the fake clock forward and lets the server's background work (sweeps, outbox, the log
   * follower) run at each instant a timer of it comes due, as if that time had passed.
   */
  advance(ms: number): Promise<void>;
  /** Lets the background work started so far finish. */
  settle(): Promise<void>;
  /** Closes the services and the database, then opens them again on the same file (a restart). */
  restart(): ReturnType<Services['start']>;
  /** Serves the app on a loopback port (for SSE over real HTTP). */
  listen(): Promise<{ url: string; close(): Promise<void> }>;
  close(): Promise<void>;
}

/** Opens a store on a test database (either backend), as a server or a CLI command would. */
export function openTestStore(db: Pick<TestDatabase, 'spec' | 'password'>, o: Omit<OpenStoreOptions, 'password'> = { role: 'server' }): Promise<OpenedStore> {
  return openStore(db.spec, { ...o, ...(db.password !== undefined && { password: db.password }) });
}

export async function makeServer(o: MakeServerOptions = {}): Promise<TestServer> {
  const clock = o.clock ?? new FakeClock();
  const dir = o.dir ?? tempDir();
  // a SQLite file in dir, or (server-pg, reliability-pg) a fresh PostgreSQL database
  const db = o.dbSpec ?? (await testDatabase(dir));
  const dbPath = db.spec;
  const storeOptions = { role: 'server' as const, ...(db.password !== undefined && { password: db.password }) };
  let policy = policyOf(o.policy ?? TEST_POLICY);
  let store = await openStore(dbPath, storeOptions);
  let services = await createServices({ store, policy, clock, logger: silentLogger, options: { authFailuresPerMinute: 1_000_000, ...o.options } });
  await services.start();
  await services.idle(); // the scheduler's first pass, so tests start from a quiet server
  const tokens: Record<string, string> = {};
  const tokenIds: Record<string, string> = {};
  for (const u of policy.users.values()) {
    const { token, info } = await services.tokens.issue(u.id, { actorId: 'test' });
    tokens[u.id] = token;
    tokenIds[u.id] = info.id;
  }
  const listeners: { close(): Promise<void> }[] = [];
  let closed = false;
  let sql: TestSql | undefined;

  const srv: TestServer = {
    get services() {
      return services;
    },
    get store() {
      return store;
    },
    get sqlite() {
      return sqliteConnection(store);
    },
    get sql() {
      // SQLite: the store's own connection (a second one could meet the open group-commit
      // transaction); PostgreSQL: a client of its own as the cluster's superuser
      sql ??= store.kind === 'sqlite' ? sqliteTestSql(sqliteConnection(store), false) : pgTestSql(db);
      return sql;
    },
    clock,
    dir,
    db,
    dbPath,
    dbArgs: db.args,
    tokens,
    tokenIds,
    get policy() {
      return policy;
    },
    set policy(p: Policy) {
      policy = p;
    },
    advance: (ms) => advanceClock(clock, () => services.idle(), ms),
    settle: () => services.idle(),
    async call(user, method, path, body, headers = {}) {
      const h: Record<string, string> = {};
      if (user !== null) {
        const t = tokens[user];
        if (!t) throw new Error(`no token for ${user}`);
        h.authorization = `Bearer ${t}`;
      }
      let payload: string | undefined;
      if (body !== undefined) {
        payload = typeof body === 'string' ? body : JSON.stringify(body);
        h['content-type'] = 'application/json';
      }
      const res = await services.app.request(path, { method, headers: { ...h, ...headers }, body: payload });
      const text = await res.text();
      let parsed: unknown = text;
      if ((res.headers.get('content-type') ?? '').includes('json')) {
        try {
          parsed = JSON.parse(text);
        } catch {
          /* leave as text: the test will see it */
        }
      }
      return { status: res.status, body: parsed as any, headers: res.headers };
    },
    async restart() {
      await services.stop();
      await store.close();
      if (store.kind === 'sqlite') sql = undefined; // it borrowed the closed connection
      store = await openStore(dbPath, storeOptions);
      services = await createServices({ store, policy, clock, logger: silentLogger, options: { authFailuresPerMinute: 1_000_000, ...o.options } });
      const caughtUp = await services.start();
      await services.idle();
      return caughtUp;
    },
    async listen() {
      // the Node bindings too (c.env.outgoing), as in production: SSE writes to the socket through them
      const server = serve({ fetch: (req, env) => services.app.fetch(req, env), hostname: '127.0.0.1', port: 0 });
      await new Promise<void>((ok, fail) => {
        if (server.listening) ok();
        server.once('listening', ok);
        server.once('error', fail);
      });
      const port = (server.address() as AddressInfo).port;
      const handle = {
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((ok) => {
            (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
            server.close(() => ok());
          }),
      };
      listeners.push(handle);
      return handle;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const l of listeners) await l.close();
      await sql?.close();
      await services.stop();
      await store.close();
      if (!o.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
  return srv;
}

/**
 * Moves a FakeClock forward by `ms`, one due timer at a time, letting `settle` (the server's
 * background work) finish after each: asynchronous work a timer starts sees its own instant.
 */
export async function advanceClock(clock: FakeClock, settle: () => Promise<void>, ms: number): Promise<void> {
  const target = clock.now() + ms;
  await settle();
  while (clock.fireNext(target)) await settle();
  clock.advance(target - clock.now());
  await settle();
}

/**
 * The audit log as the store reads it (the same on both backends), oldest first, after flushing
 * the events the server batches; `where` keeps the events matching every field given.
 */
export async function loggedEvents(
  s: Pick<TestServer, 'store' | 'services'>,
  where: { action?: string; requestId?: string; grantId?: string } = {},
): Promise<StoredAuditEvent[]> {
  await s.services.batcher.flush();
  const all = await s.store.read(async (tx) => {
    const events: StoredAuditEvent[] = [];
    for await (const e of tx.audit.iterate()) events.push(e);
    return events;
  });
  return all.filter(
    (e) =>
      (where.action === undefined || e.action === where.action) &&
      (where.requestId === undefined || e.requestId === where.requestId) &&
      (where.grantId === undefined || e.grantId === where.grantId),
  );
}

/** SQLite only: the store's write connection (tests that inspect rows with SQL or inject faults). */
export function sqliteConnection(store: Store): Database {
  const db = (store as { db?: unknown }).db;
  if (store.kind !== 'sqlite' || typeof db !== 'object' || db === null) throw new Error('this test needs SQL on a SQLite store');
  return db as Database;
}

/**
 * Raw SQL on a test database, the same lines on SQLite and PostgreSQL: `?` placeholders, counts
 * and other bigint values as numbers. Only for what the Store API cannot do (injecting faults,
 * tampering, counting rows no API lists); dialect differences stay in here.
 */
export interface TestSql {
  readonly dialect: 'sqlite' | 'postgres';
  all<T = Record<string, unknown>>(query: string, ...params: unknown[]): Promise<T[]>;
  /** The first row, or undefined. */
  get<T = Record<string, unknown>>(query: string, ...params: unknown[]): Promise<T | undefined>;
  /** `SELECT count(*) FROM <from>`: e.g. count('audit WHERE action = ?', 'auth.failed'). */
  count(from: string, ...params: unknown[]): Promise<number>;
  /** One statement that returns no rows. */
  run(query: string, ...params: unknown[]): Promise<void>;
  /**
   * From now on, UPDATEs of `table` whose new row matches `when` (SQL over NEW and OLD, the same
   * in both dialects for simple comparisons) change nothing, as when another writer changed the
   * row first and the conditional update no longer matches; resolves to the undo.
   */
  ignoreUpdates(table: string, when: string): Promise<() => Promise<void>>;
  /** Makes the database say its schema is at `version` (an older or newer server's database). */
  setSchemaVersion(version: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens raw SQL on a database a test made (testDatabase(dir), srv.db): a second connection
 * beside the server's (SQLite: `readonly` opens it read-only; PostgreSQL: the cluster's
 * superuser, who may also do what the application cannot, e.g. disable the audit triggers).
 */
export async function openTestSql(db: Pick<TestDatabase, 'spec'>, o: { readonly?: boolean } = {}): Promise<TestSql> {
  if (!/^postgres(ql)?:\/\//.test(db.spec)) return sqliteTestSql(new Sqlite(db.spec, { readonly: o.readonly ?? false, fileMustExist: true }), true);
  const s = pgTestSql(db);
  if (o.readonly) await s.run('SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY');
  return s;
}

function sqliteTestSql(conn: Database, owned: boolean): TestSql {
  let triggers = 0;
  return {
    dialect: 'sqlite',
    all: async <T>(query: string, ...params: unknown[]) => conn.prepare(query).all(...params) as T[],
    get: async <T>(query: string, ...params: unknown[]) => conn.prepare(query).get(...params) as T | undefined,
    count: async (from, ...params) => (conn.prepare(`SELECT count(*) AS n FROM ${from}`).get(...params) as { n: number }).n,
    run: async (query, ...params) => void conn.prepare(query).run(...params),
    async ignoreUpdates(table, when) {
      const name = `test_ignore_updates_${++triggers}`;
      conn.exec(`CREATE TRIGGER ${name} BEFORE UPDATE ON ${table} WHEN ${when} BEGIN SELECT RAISE(IGNORE); END`);
      return async () => void conn.exec(`DROP TRIGGER ${name}`);
    },
    setSchemaVersion: async (version) => void conn.pragma(`user_version = ${Math.trunc(version)}`),
    close: async () => void (owned && conn.close()),
  };
}

/** bigint as numbers, as the PostgreSQL store reads them (every value Elevate stores is below 2^53) */
const pgTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === 20 && format !== 'binary' ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

function pgTestSql(db: Pick<TestDatabase, 'spec'>): TestSql {
  const u = new URL(db.spec);
  // fields, not a connectionString: the password comes from its file, never from a URL
  const client = new pg.Client({
    host: u.hostname,
    port: Number(u.port),
    user: decodeURIComponent(u.username),
    database: decodeURIComponent(u.pathname.slice(1)),
    password: testPgPassword(),
    types: pgTypes,
  });
  const connected = client.connect();
  // the dialects' one difference that matters here: `?` becomes $1, $2, … (outside quotes)
  const numbered = (query: string) => {
    let n = 0;
    return query.replace(/'(?:[^']|'')*'|\?/g, (m) => (m === '?' ? `$${++n}` : m));
  };
  const rows = async <T>(query: string, params: unknown[]) => {
    await connected;
    return (await client.query(numbered(query), params)).rows as T[];
  };
  let triggers = 0;
  return {
    dialect: 'postgres',
    all: <T>(query: string, ...params: unknown[]) => rows<T>(query, params),
    get: async <T>(query: string, ...params: unknown[]) => (await rows<T>(query, params))[0],
    count: async (from, ...params) => (await rows<{ n: number }>(`SELECT count(*) AS n FROM ${from}`, params))[0]!.n,
    run: async (query, ...params) => void (await rows(query, params)),
    async ignoreUpdates(table, when) {
      const name = `test_ignore_updates_${++triggers}`;
      // a BEFORE ROW trigger returning NULL skips the row's update, as RAISE(IGNORE) does in SQLite
      await rows(`CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$`, []);
      await rows(`CREATE TRIGGER ${name} BEFORE UPDATE ON ${table} FOR EACH ROW WHEN (${when}) EXECUTE FUNCTION ${name}()`, []);
      return async () => {
        await rows(`DROP TRIGGER ${name} ON ${table}`, []);
        await rows(`DROP FUNCTION ${name}()`, []);
      };
    },
    async setSchemaVersion(version) {
      // the version is the newest row of schema_migrations (server/store/postgres/migrations.ts)
      await rows('DELETE FROM schema_migrations WHERE version > ?', [version]);
      await rows('INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0) ON CONFLICT DO NOTHING', [version]);
    },
    async close() {
      await connected.catch(() => {});
      await client.end().catch(() => {});
    },
  };
}

/** Asserts the contract's error shape and returns the code. */
export function errorCode(r: Reply): string {
  const e = (r.body as { error?: { code?: unknown; message?: unknown } })?.error;
  if (!e || typeof e.code !== 'string' || typeof e.message !== 'string') {
    throw new Error(`expected {error:{code,message}}, got ${r.status} ${JSON.stringify(r.body)}`);
  }
  return e.code;
}

// ---------- the real CLI as a child process ----------

/** The environment without ELEVATE_* settings, so only explicit flags (and `extra`) apply. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('ELEVATE_')) delete env[k];
  return { ...env, ...extra };
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => ok(port));
    });
  });
}

/** A free port whose next `count - 1` ports are free too (the replica demo listens on port+1 … port+N). */
export async function freePortRun(count: number): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = await freePort();
    if (
      (
        await takenPorts(
          '127.0.0.1',
          Array.from({ length: count - 1 }, (_, i) => base + 1 + i),
        )
      ).length === 0
    )
      return base;
  }
  throw new Error(`no run of ${count} free ports found`);
}

/** Builds dist/server.js once per test process. */
let built = false;
export function buildServer(): void {
  if (built) return;
  const r = spawnSync(process.execPath, ['scripts/build.mjs', 'server'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build failed:\n${r.stdout}\n${r.stderr}`);
  built = true;
}

/** Runs a dist/server.js command to completion. */
export function cli(args: string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}) {
  const r = spawnSync(process.execPath, [SERVER_JS, ...args], {
    cwd: opts.cwd ?? ROOT,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 30_000,
    env: cleanEnv(opts.env),
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

export interface SpawnedServer {
  url: string;
  port: number;
  proc: ChildProcess;
  /** everything the child wrote so far (stdout and stderr), for diagnostics */
  output(): string;
  /** sends a signal and waits for the process to exit */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM, then SIGKILL after 5 s */
  stop(): Promise<void>;
}

/** The CLI flags that reach a database: a SQLite path, or a test database on either backend. */
export function dbFlags(db: string | Pick<TestDatabase, 'args'>): string[] {
  return typeof db === 'string' ? ['--db', db] : db.args;
}

export async function spawnServer(o: {
  policyPath: string;
  /** where its data lives: testDatabase(dir) / srv.db (either backend), or a SQLite path */
  db?: string | Pick<TestDatabase, 'args'>;
  /** a SQLite file (the older spelling of `db` for a path) */
  dbPath?: string;
  port?: number;
  args?: string[];
  /** registers cleanup on this test context (the process-exit hook is the last resort) */
  t?: { after(fn: () => unknown): void };
  timeoutMs?: number;
  env?: Record<string, string>;
}): Promise<SpawnedServer> {
  const db = o.db ?? o.dbPath;
  if (db === undefined) throw new Error('spawnServer needs db (or dbPath)');
  const port = o.port ?? (await freePort());
  const proc = spawn(process.execPath, [SERVER_JS, 'start', '--config', o.policyPath, ...dbFlags(db), '--port', String(port), ...(o.args ?? [])], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: cleanEnv(o.env),
  });
  children.add(proc);
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<void>((ok) => proc.once('exit', () => ok()));
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (alive()) proc.kill(signal);
    await exited;
    children.delete(proc);
  };
  const stop = async () => {
    if (!alive()) return kill();
    const t = setTimeout(() => alive() && proc.kill('SIGKILL'), 5000);
    proc.kill('SIGTERM');
    await exited;
    clearTimeout(t);
    children.delete(proc);
  };
  o.t?.after(() => kill('SIGKILL'));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (o.timeoutMs ?? 15_000);
  for (;;) {
    if (!alive()) throw new Error(`server exited (${proc.exitCode ?? proc.signalCode}) before it was healthy:\n${out}`);
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await kill();
      throw new Error(`server not healthy after ${o.timeoutMs ?? 15_000} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url, port, proc, output: () => out, kill, stop };
}

/** Writes the policy YAML into dir and returns its path. */
export function writePolicy(dir: string, yaml: string = TEST_POLICY, name = 'elevate.yaml'): string {
  const p = join(dir, name);
  writeFileSync(p, yaml);
  return p;
}

/** Issues a token through the CLI (the real path an operator uses). */
export function issueToken(policyPath: string, db: string | Pick<TestDatabase, 'args'>, user: string): string {
  const r = cli(['token', 'issue', user, '--config', policyPath, ...dbFlags(db)]);
  if (r.code !== 0) throw new Error(`token issue ${user} failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** A fetch against a spawned server as a bearer token; parses JSON. */
export async function http<T = any>(url: string, token: string | null, method: string, path: string, body?: unknown): Promise<Reply<T>> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url + path, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed as any, headers: res.headers };
}

// ---------- small builders for common bodies ----------

export const access = (resourceId: string, role: string, durationSeconds: number, extra: Record<string, unknown> = {}) => ({
  resourceId,
  role,
  durationSeconds,
  justification: 'testing',
  ...extra,
});

export const MIN = 60_000;
export const HOUR = 3_600_000;
