// Test harnesses for the server.
//  - makeServer(): the whole server in-process on a real SQLite file in a fresh temp dir (opened
//    through openStore, as the CLI does), driven through services.app.request() (no port), with a
//    FakeClock that tests move instead of sleeping.
//  - spawnServer(): the bundled CLI (dist/server.js) as a child process on a free loopback port.
import { serve } from '@hono/node-server';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Database } from 'better-sqlite3';
import { FakeClock } from '../../server/domain/clock.js';
import { parsePolicy } from '../../server/domain/policy.js';
import type { Policy } from '../../server/domain/types.js';
import { openStore } from '../../server/store/open.js';
import type { Store } from '../../server/store/types.js';
import { silentLogger } from '../../server/logger.js';
import { createServices, type Services, type ServicesOptions } from '../../server/services.js';
import { TEST_POLICY } from './policy.js';
import { testDatabase } from './backend.js';

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
  dbSpec?: { spec: string; password?: string; args: string[] };
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
  readonly dir: string;
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
    clock,
    dir,
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

/** SQLite only: the store's write connection (tests that inspect rows with SQL or inject faults). */
export function sqliteConnection(store: Store): Database {
  const db = (store as { db?: unknown }).db;
  if (store.kind !== 'sqlite' || typeof db !== 'object' || db === null) throw new Error('this test needs SQL on a SQLite store');
  return db as Database;
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

export async function spawnServer(o: {
  policyPath: string;
  dbPath: string;
  port?: number;
  args?: string[];
  /** registers cleanup on this test context (the process-exit hook is the last resort) */
  t?: { after(fn: () => unknown): void };
  timeoutMs?: number;
  env?: Record<string, string>;
}): Promise<SpawnedServer> {
  const port = o.port ?? (await freePort());
  const proc = spawn(process.execPath, [SERVER_JS, 'start', '--config', o.policyPath, '--db', o.dbPath, '--port', String(port), ...(o.args ?? [])], {
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
export function issueToken(policyPath: string, dbPath: string, user: string): string {
  const r = cli(['token', 'issue', user, '--config', policyPath, '--db', dbPath]);
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
