// elevate-server: the command line, and the only place that opens the database and the port.
import { serve } from '@hono/node-server';
import { chmodSync, closeSync, existsSync, openSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { dirname, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Duplex } from 'node:stream';
import { VERSION } from './app.js';
import { GuardedClock, systemClock } from './domain/clock.js';
import { parseDuration } from './domain/duration.js';
import { loadPolicyFile, parsePolicy } from './domain/policy.js';
import type { Policy } from './domain/types.js';
import { isMainThread, workerData } from 'node:worker_threads';
import { type OpenedStore, isPostgresUrl as isPostgres, openStore } from './store/open.js';
import { runStoreWorker } from './store/sqlite/worker.js';
import { exportAudit } from './cli/export.js';
import { exitQuietlyOnClosedPipe } from './cli/output.js';
import { defaultConfig, defaultDb } from './cli/paths.js';
import { policyHash } from './domain/policyHash.js';
import { printVerification } from './cli/verify.js';
import { Tokens } from './engine/tokens.js';
import { jsonLogger } from './logger.js';
import { createServices } from './services.js';
import { loadOrCreateServerKey, serverKeyPath } from './crypto/serverKey.js';
// bundled as text by esbuild (scripts/build.mjs)
import demoPolicyText from './demo/policy.yaml';
import { postgresDemoPolicy, postgresHint, startDemoPostgres, type DemoPostgres } from './demo/postgres.js';
import { oidcDemoPolicy, startDemoOidc, type DemoOidc } from './demo/idp.js';
import { checkReplicaDemo, startReplicaDemo, takenPorts } from './demo/replicas.js';
import { disableUser } from './identity/service.js';

const USAGE = `elevate-server ${VERSION} — just-in-time privileged access

Usage:
  elevate-server start [--config F] [--db F] [--port N] [--host H] [--tls-cert F --tls-key F] [--insecure-listen]
  elevate-server demo [--with-postgres] [--with-oidc] [--port N] [--host H]
  elevate-server demo --replicas N [--port N]   N servers (1 to 9) on an embedded PostgreSQL behind one URL (loopback)
  elevate-server token issue <userId> [--ttl 90d] [--label L]
  elevate-server token list [--user userId] [--format text|json]
  elevate-server token revoke <tokenId> | --user <userId>
  elevate-server user disable <userId> [--reason TEXT]
  elevate-server check-config [--config F] [--format text|json]
  elevate-server audit verify [--head HASH] [--state] [--format text|json]
  elevate-server audit head [--format text|json]
  elevate-server audit export --format jsonl|csv [--from T] [--to T]
  elevate-server backup <file>

Every command takes --config/--db, or ELEVATE_CONFIG/ELEVATE_DB (flag, then environment, then
./elevate.yaml and .elevate/elevate.db; where only the demo ran, its .elevate/demo-policy.yaml and
.elevate/demo.db). ELEVATE_PORT and ELEVATE_HOST likewise (7410, 127.0.0.1). Read-only commands
(audit verify|head|export, token list, backup) never create a database: a missing one is exit 2.
--db takes a SQLite file or a postgres:// (postgresql://) URL; the PostgreSQL password comes from
the URL, PGPASSWORD/PGPASSFILE, or --db-password-file F (ELEVATE_DB_PASSWORD_FILE), and is never
logged. The server key (--key-file F, ELEVATE_KEY_FILE) must be the same file on every replica. A SQLite database
serves one server process; PostgreSQL any number of replicas. backup is for SQLite (PostgreSQL:
pg_dump).`;

/** A mistake in how the command was called: one line, a hint, exit 2. */
class UsageError extends Error {}
/** A failure the user can act on, told in one line without a stack (exit 1 unless said). */
class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

const options = {
  config: { type: 'string' },
  db: { type: 'string' },
  'db-password-file': { type: 'string' },
  'key-file': { type: 'string' },
  replicas: { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  ttl: { type: 'string' },
  label: { type: 'string' },
  user: { type: 'string' },
  head: { type: 'string' },
  state: { type: 'boolean' },
  format: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'insecure-listen': { type: 'boolean' },
  'with-postgres': { type: 'boolean' },
  'with-oidc': { type: 'boolean' },
  reason: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

type Flags = ReturnType<typeof parse>['values'];
const parse = (argv: string[]) => parseArgs({ args: argv, options, allowPositionals: true, strict: true });

const env = process.env;
let toldDemoDefault = false;
/** a default taken from the demo's files is said once, on stderr (stdout may be a token) */
const fromDemo = (d: { path: string; demo: boolean }) => {
  if (d.demo && !toldDemoDefault) {
    toldDemoDefault = true;
    process.stderr.write(`elevate-server: no ./elevate.yaml here: using the demo's files (${defaultConfig().path}, ${defaultDb().path})\n`);
  }
  return d.path;
};
const configPath = (f: Flags) => resolve(f.config ?? (env.ELEVATE_CONFIG || fromDemo(defaultConfig())));
/** --db / ELEVATE_DB: a SQLite file (made absolute) or a postgres:// URL (as given). */
const dbSpec = (f: Flags) => {
  const spec = f.db ?? (env.ELEVATE_DB || fromDemo(defaultDb()));
  return isPostgres(spec) ? spec : resolve(spec);
};
/** The database of a read-only command: it must exist (opening a SQLite file would create an empty one). */
function existingDbSpec(f: Flags): string {
  const spec = dbSpec(f);
  if (!isPostgres(spec) && !existsSync(spec)) {
    throw new CliError(`no database at ${spec}: give --db or ELEVATE_DB (the server creates it on its first start)`, 2);
  }
  return spec;
}
/** What the logs may say about the database: a PostgreSQL URL without its password. */
function dbForLog(spec: string): string {
  if (!isPostgres(spec)) return spec;
  try {
    const u = new URL(spec);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}
/** --db-password-file: the PostgreSQL password kept out of argv, the URL and the environment. */
function dbPassword(f: Flags): string | undefined {
  const file = f['db-password-file'] ?? (env.ELEVATE_DB_PASSWORD_FILE || undefined);
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (e) {
    throw new CliError(`--db-password-file: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}
/**
 * Opens the store of a command (each commits its writes at once), runs fn and closes it. A
 * command on an `existing` database creates nothing: PostgreSQL has no file to check for, so a
 * database without Elevate's tables is refused here, not given an empty schema.
 */
async function withStore<T>(f: Flags, spec: string, existing: boolean, fn: (store: OpenedStore) => Promise<T>): Promise<T> {
  const password = dbPassword(f);
  let store: OpenedStore;
  try {
    store = await openStore(spec, { role: 'cli', verifyInline: true, ...(existing && { migrate: false }), ...(password !== undefined && { password }) });
  } catch (e) {
    if ((e as { code?: unknown }).code !== 'NO_DATABASE') throw e;
    throw new CliError(`no Elevate tables in the database at ${dbForLog(spec)}: give --db or ELEVATE_DB (the server creates them on its first start)`, 2);
  }
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
/** --format of the listing and verify commands. */
function textOrJson(f: Flags): 'text' | 'json' {
  const v = f.format ?? 'text';
  if (v !== 'text' && v !== 'json') throw new UsageError(`--format: expected text or json, got "${v}"`);
  return v;
}
const printJson = (value: unknown) => process.stdout.write(JSON.stringify(value, null, 2) + '\n');
const host = (f: Flags) => f.host ?? (env.ELEVATE_HOST || '127.0.0.1');
function port(f: Flags): number {
  const raw = f.port ?? (env.ELEVATE_PORT || '7410');
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > 65535) throw new UsageError(`--port: expected a port number, got "${raw}"`);
  return n;
}

function loadPolicyOrExit(path: string): Policy {
  const r = loadPolicyFile(path);
  if (!r.ok) {
    process.stderr.write(`invalid policy ${path}:\n${r.errors.map((e) => `  - ${e}`).join('\n')}\n`);
    process.exit(1);
  }
  return r.policy;
}

const isLoopback = (h: string) => h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);

async function serveCommand(f: Flags, policyPath: string, policy: Policy, onListening?: (url: string) => void, onShutdown?: () => Promise<void>) {
  const h = host(f);
  const p = port(f);
  const tls = f['tls-cert'] && f['tls-key'] ? { cert: readFileSync(f['tls-cert']), key: readFileSync(f['tls-key']) } : undefined;
  if (!isLoopback(h) && !tls && !f['insecure-listen']) {
    throw new UsageError(
      `refusing to listen on ${h}: tokens would cross the network in clear text. Give --tls-cert and --tls-key, or --insecure-listen behind a TLS-terminating proxy.`,
    );
  }
  const logger = jsonLogger((env.ELEVATE_LOG_LEVEL as 'info' | undefined) ?? 'info');
  const spec = dbSpec(f);
  // the server's store: group commit, and this bundle as the body of its worker threads
  const password = dbPassword(f);
  const store = await openStore(spec, { role: 'server', workerEntry: __filename, ...(password !== undefined && { password }) });
  // created 0600 on first start, next to the database (PostgreSQL: next to the policy file; every
  // replica needs the same one); seals provider-issued credentials at rest
  const serverKey = loadOrCreateServerKey(resolve(f['key-file'] ?? (env.ELEVATE_KEY_FILE || serverKeyPath(isPostgres(spec) ? policyPath : spec))));
  const url = `${tls ? 'https' : 'http'}://${h.includes(':') ? `[${h}]` : h}:${p}`;
  const services = await createServices({
    listenUrl: url,
    store,
    policy,
    clock: new GuardedClock(),
    logger,
    serverKey,
    options: { listenHost: h },
    defaultMetrics: true,
  });
  await services.start();

  const server = serve({
    fetch: services.app.fetch,
    hostname: h,
    port: p,
    ...(tls && { createServer: createHttpsServer, serverOptions: tls }),
  });
  // Requests Node's HTTP parser refuses before Hono sees them (oversized headers or URL,
  // malformed request lines) still get the API's error shape instead of a bare status line.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) return void socket.destroy();
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const status = tooLarge ? 431 : 400;
    const body = JSON.stringify({
      error: { code: 'invalid_request', message: tooLarge ? 'request headers or URL are too large (16 KiB at most)' : 'malformed HTTP request' },
    });
    // a response to HEAD carries no body (the request line is in the raw bytes the parser kept)
    const head = (err as { rawPacket?: Buffer }).rawPacket?.subarray(0, 5).toString('latin1') === 'HEAD ';
    socket.end(
      `HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nContent-Type: application/json\r\n` +
        'X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${head ? '' : body}`,
    );
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('listening', resolveListen);
    server.once('error', (e: NodeJS.ErrnoException) => {
      const where = `${h.includes(':') ? `[${h}]` : h}:${p}`;
      if (e.code === 'EADDRINUSE')
        reject(new CliError(`cannot listen on ${where}: the port is already in use (another elevate-server?); choose another with --port or ELEVATE_PORT`));
      else if (e.code === 'EACCES')
        reject(new CliError(`cannot listen on ${where}: permission denied (ports below 1024 need privileges); choose another with --port or ELEVATE_PORT`));
      else if (e.code === 'EADDRNOTAVAIL')
        reject(new CliError(`cannot listen on ${where}: no network interface has that address; check --host or ELEVATE_HOST`));
      else reject(e);
    });
  });
  logger.log('info', 'listening', { url, policy: policyPath, db: dbForLog(spec), pid: process.pid });
  onListening?.(url);

  process.on('SIGHUP', () => {
    const r = loadPolicyFile(policyPath);
    if (!r.ok) {
      logger.log('error', 'policy reload refused; keeping the current policy', { policy: policyPath, errors: r.errors });
      return;
    }
    const before = services.policy();
    const next = services.identity.effective(r.policy); // with the users the IdP vouched for
    const summary = {
      users: r.policy.users.size,
      resources: r.policy.resources.size,
      usersRemoved: [...before.users.keys()].filter((u) => !next.users.has(u)),
      resourcesRemoved: [...before.resources.keys()].filter((x) => !r.policy.resources.has(x)),
    };
    services.reload(r.policy, summary).then(
      () => logger.log('info', 'policy reloaded', { policy: policyPath, ...summary }),
      (e: unknown) => logger.log('error', 'policy reload failed', { policy: policyPath, error: String(e) }),
    );
  });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.log('info', 'shutting down', { signal });
    // stop taking connections, end event streams so close() can finish, flush batched audits
    server.close();
    void services.stop().then(async () => {
      await store.close();
      await onShutdown?.().catch((e: unknown) => logger.log('error', 'shutdown step failed', { error: String(e) }));
      process.exit(0);
    });
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

async function demo(f: Flags) {
  // bad input to the replica demo is refused before anything is created or started
  const replicas =
    f.replicas === undefined ? undefined : checkReplicaDemo({ replicas: f.replicas, flags: f, host: host(f), loopback: isLoopback(host(f)), port: port(f) });
  if (replicas && 'problem' in replicas) throw new UsageError(replicas.problem);
  if (replicas) {
    const ports = Array.from({ length: replicas.count + 1 }, (_, i) => port(f) + i);
    const taken = await takenPorts(host(f), ports);
    if (taken.length)
      throw new UsageError(
        `--port ${port(f)}: port ${taken.join(', ')} already in use (the replica demo takes ${port(f)} for its balancer and ${port(f) + 1}-${port(f) + replicas.count} for its replicas); choose another --port`,
      );
  }
  const dir = resolve('.elevate');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (replicas) return replicaDemo(f, dir, replicas.count);
  // --with-postgres: a real PostgreSQL (server/demo/postgres.ts) behind prod-db and staging-db
  const pgsrv: DemoPostgres | undefined = f['with-postgres'] ? await startDemoPostgres(dir) : undefined;
  // --with-oidc: a demo identity provider (server/demo/idp.ts) on the next port
  let oidc: DemoOidc | undefined;
  try {
    oidc = f['with-oidc'] ? await startDemoOidc(dir, `http://${host(f)}:${port(f)}`, port(f) + 1) : undefined;
    await demoServe(f, dir, pgsrv, oidc);
  } catch (e) {
    await pgsrv?.stop().catch(() => {});
    await oidc?.idp.stop().catch(() => {});
    throw e;
  }
}

async function demoServe(f: Flags, dir: string, pgsrv: DemoPostgres | undefined, oidc?: DemoOidc) {
  const name = `demo${pgsrv ? '-postgres' : ''}${oidc ? '-oidc' : ''}-policy`;
  const policyPath = resolve(f.config ?? (env.ELEVATE_CONFIG || `${dir}/${name}.yaml`));
  const baseText = pgsrv ? postgresDemoPolicy(demoPolicyText, pgsrv.adminUrlFile) : demoPolicyText;
  if (!existsSync(policyPath)) writeFileSync(policyPath, oidc ? oidcDemoPolicy(baseText, oidc.idp.issuer, oidc.secretFile) : baseText);
  const parsed = parsePolicy(readFileSync(policyPath, 'utf8'));
  if (!parsed.ok) throw new CliError(`invalid demo policy ${policyPath}:\n  - ${parsed.errors.join('\n  - ')}`);
  const dbFile = f.db ?? (env.ELEVATE_DB || `${dir}/demo.db`);
  const flags = { ...f, db: dbFile };

  // fresh tokens for the demo users; the previous demo tokens stop working
  const minted: Record<string, string> = {};
  await withStore(f, resolve(dbFile), false, async (store) => {
    const tokens = new Tokens(store, systemClock);
    const old = (await tokens.list()).filter((t) => t.label === 'demo' && t.revokedAt === null).map((t) => t.id);
    await tokens.revoke(old, 'cli', 'replaced by a new demo run');
    for (const u of parsed.policy.users.values()) minted[u.id] = (await tokens.issue(u.id, { ttlSeconds: 30 * 86400, label: 'demo', actorId: 'cli' })).token;
  });

  // how this program was started, so the printed commands work as they are
  const self = /server\.js$/.test(process.argv[1] ?? '') ? `node ${relative(process.cwd(), process.argv[1]) || process.argv[1]}` : 'elevate-server';
  await serveCommand(
    flags,
    policyPath,
    parsed.policy,
    (url) => {
      const file = `${dir}/demo-tokens.json`;
      writeFileSync(file, JSON.stringify({ url, tokens: minted }, null, 2) + '\n', { mode: 0o600 });
      chmodSync(file, 0o600);
      const users = [...parsed.policy.users.values()];
      const w = Math.max(...users.map((u) => u.id.length));
      const lines = users.map((u) => {
        const what = u.roles.length ? u.roles.join(', ') : u.groups.join(', ') || 'requester';
        return `  ${u.id.padEnd(w)}  ${minted[u.id]}  (${what})`;
      });
      process.stdout.write(
        `\nElevate demo server is running at ${url}\n` +
          `Policy: ${policyPath} (edit it, then send SIGHUP to reload)\n\n` +
          `Tokens for the demo users (also in ${file}, mode 0600):\n${lines.join('\n')}\n\n` +
          `In VS Code: "Elevate: Sign In", server ${url}, paste a token (alice requests, bob approves).\n` +
          `More tokens, from this folder (it uses the demo's policy and database): ${self} token issue alice\n` +
          `  or from anywhere: ${self} token issue alice --config ${policyPath} --db ${resolve(dbFile)}\n` +
          (pgsrv ? `\n${postgresHint(pgsrv, policyPath)}\n` : '') +
          (oidc ? `\n${oidc.hint()}\n` : '') +
          `Stop with Ctrl+C.\n\n`,
      );
    },
    async () => {
      await oidc?.idp.stop();
      await pgsrv?.stop();
    },
  );
}

/**
 * `demo --replicas N`: N `start` processes on an embedded PostgreSQL behind a loopback balancer
 * (server/demo/replicas.ts), with fresh demo tokens; what README "Several replicas" walks through.
 */
async function replicaDemo(f: Flags, dir: string, count: number) {
  const policyPath = resolve(f.config ?? (env.ELEVATE_CONFIG || `${dir}/demo-policy.yaml`));
  if (!existsSync(policyPath)) writeFileSync(policyPath, demoPolicyText);
  const parsed = parsePolicy(readFileSync(policyPath, 'utf8'));
  if (!parsed.ok) throw new CliError(`invalid demo policy ${policyPath}:\n  - ${parsed.errors.join('\n  - ')}`);
  const minted: Record<string, string> = {};
  const h = host(f);
  const p = port(f);
  const demo = await startReplicaDemo({
    dir,
    host: h,
    port: p,
    count,
    policyPath,
    script: resolve(process.argv[1]),
    log: (line) => process.stderr.write(`${line}\n`),
    // the database's tables and fresh tokens for the demo users, before any replica starts
    prepare: (dbUrl, passwordFile) =>
      withStore({ ...f, 'db-password-file': passwordFile }, dbUrl, false, async (store) => {
        const tokens = new Tokens(store, systemClock);
        const old = (await tokens.list()).filter((t) => t.label === 'demo' && t.revokedAt === null).map((t) => t.id);
        await tokens.revoke(old, 'cli', 'replaced by a new demo run');
        for (const u of parsed.policy.users.values())
          minted[u.id] = (await tokens.issue(u.id, { ttlSeconds: 30 * 86400, label: 'demo', actorId: 'cli' })).token;
      }),
  });
  const url = `http://${h}:${p}`;
  const file = `${dir}/demo-tokens.json`;
  writeFileSync(file, JSON.stringify({ url, tokens: minted }, null, 2) + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  const lines = [...parsed.policy.users.values()].map((u) => `  ${u.id.padEnd(8)}  ${minted[u.id]}`);
  const replicas = demo.replicas().map((r, i) => `  replica ${i + 1}: port ${r.port}, pid ${r.pid}`);
  process.stdout.write(
    `\nElevate demo: ${count} replicas on one PostgreSQL, behind ${url}\n${replicas.join('\n')}\n` +
      `Database: ${demo.dbUrl} (password in ${demo.passwordFile}, mode 0600)\n` +
      `Policy: ${policyPath}\n\nTokens for the demo users (also in ${file}, mode 0600):\n${lines.join('\n')}\n\n` +
      `In VS Code: "Elevate: Sign In", server ${url}. Kill any replica (kill -9 <pid>): the others\n` +
      `keep serving, open editors do not notice, and the demo starts it again.\nStop with Ctrl+C.\n\n`,
  );
  await new Promise<void>((done) => {
    const stop = () => void demo.stop().finally(done);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

async function main(argv: string[]) {
  const { values: f, positionals } = parse(argv);
  const [cmd, sub, arg] = positionals;
  if (f.version) return void process.stdout.write(`${VERSION}\n`);
  if (f.help || !cmd) return void process.stdout.write(`${USAGE}\n`);
  if (f.replicas !== undefined && cmd !== 'demo') throw new UsageError(`--replicas goes with demo (elevate-server demo --replicas N), not with ${cmd}`);

  switch (cmd) {
    case 'start': {
      const path = configPath(f);
      await serveCommand(f, path, loadPolicyOrExit(path));
      return;
    }
    case 'demo':
      return demo(f);
    case 'check-config': {
      const format = textOrJson(f);
      const path = configPath(f);
      const r = loadPolicyFile(path);
      if (format === 'json')
        printJson(
          r.ok
            ? { ok: true, path, users: r.policy.users.size, resources: r.policy.resources.size, policyHash: policyHash(r.policy) }
            : { ok: false, path, errors: r.errors },
        );
      else if (!r.ok) process.stderr.write(`${r.errors.join('\n')}\n`);
      else process.stdout.write(`${path}: ok (${r.policy.users.size} users, ${r.policy.resources.size} resources)\n`);
      if (!r.ok) process.exitCode = 1;
      return;
    }
    case 'token':
      return tokenCommand(f, sub, arg);
    case 'user':
      return userCommand(f, sub, arg);
    case 'audit':
      return auditCommand(f, sub);
    case 'backup': {
      if (!sub) throw new UsageError('backup: give the file to write, e.g. elevate-server backup /var/backups/elevate.db');
      if (existsSync(sub)) throw new UsageError(`backup: ${sub} already exists; refusing to overwrite it`);
      const spec = existingDbSpec(f);
      if (isPostgres(spec)) {
        throw new CliError('backup copies a SQLite database; for PostgreSQL use its own tools, e.g. pg_dump --format=custom --file=elevate.dump <database>');
      }
      await withStore(f, spec, true, async (store) => {
        if (store.kind !== 'sqlite') throw new CliError('backup copies a SQLite database; for PostgreSQL use pg_dump');
        mkdirSync(dirname(resolve(sub)), { recursive: true });
        // the copy holds token hashes, sealed credentials and every justification: like the database
        // it is 0600 from its first byte (created empty with that mode; SQLite keeps a file's mode)
        closeSync(openSync(sub, 'wx', 0o600));
        chmodSync(sub, 0o600);
        // SQLite's online backup API: a consistent copy while the server keeps writing
        await store.backup(sub);
      });
      process.stderr.write(`backup written to ${sub}\n`);
      return;
    }
    default:
      throw new UsageError(`unknown command "${cmd}"`);
  }
}

async function tokenCommand(f: Flags, sub: string | undefined, arg: string | undefined) {
  if (sub !== 'issue' && sub !== 'list' && sub !== 'revoke') throw new UsageError('token: expected issue, list or revoke');
  const format = sub === 'list' ? textOrJson(f) : 'text';
  // only issuing may start a database; listing and revoking need the one that holds the tokens
  await withStore(f, sub === 'issue' ? dbSpec(f) : existingDbSpec(f), sub !== 'issue', async (store) => {
    const tokens = new Tokens(store, systemClock);
    if (sub === 'issue') {
      if (!arg) throw new UsageError('token issue: give the user id, e.g. elevate-server token issue alice');
      const policy = loadPolicyOrExit(configPath(f));
      if (!policy.users.has(arg)) throw new UsageError(`token issue: no user "${arg}" in ${configPath(f)}`);
      let ttl: number;
      try {
        ttl = parseDuration(f.ttl ?? '90d');
      } catch (e) {
        throw new UsageError(`--ttl: ${(e as Error).message}`);
      }
      const { token, info } = await tokens.issue(arg, { ttlSeconds: ttl, label: f.label, actorId: 'cli' });
      process.stdout.write(`${token}\n`);
      process.stderr.write(`token ${info.id} for ${arg}, expires ${info.expiresAt}\n`);
    } else if (sub === 'list') {
      const state = (t: { revokedAt?: string | null; expiresAt?: string | null }) =>
        t.revokedAt ? 'revoked' : t.expiresAt && Date.parse(t.expiresAt) <= Date.now() ? 'expired' : 'active';
      const list = await tokens.list(f.user);
      if (format === 'json') return void printJson({ tokens: list.map((t) => ({ ...t, state: state(t) })) });
      for (const t of list) {
        const state = t.revokedAt ? `revoked ${t.revokedAt}` : t.expiresAt && Date.parse(t.expiresAt) <= Date.now() ? 'expired' : 'active';
        process.stdout.write(
          `${t.id}\t${t.userId}\t${state}\texpires ${t.expiresAt ?? 'never'}\tlast used ${t.lastUsedAt ?? 'never'}${t.label ? `\t${t.label}` : ''}\n`,
        );
      }
    } else if (sub === 'revoke') {
      const ids = f.user ? (await tokens.list(f.user)).filter((t) => !t.revokedAt).map((t) => t.id) : arg ? [arg] : [];
      if (!ids.length && !f.user) throw new UsageError('token revoke: give a token id or --user <userId>');
      const done = await tokens.revoke(ids, 'cli', 'revoked from the command line');
      if (arg && !done.length) throw new UsageError(`token revoke: no active token ${arg}`);
      process.stderr.write(`revoked ${done.length} token(s)${done.length ? `: ${done.join(', ')}` : ''}\n`);
    } else throw new UsageError('token: expected issue, list or revoke');
  });
}

/** `user disable <id>`: no more sign-ins, every token and session of the user revoked, audited. */
async function userCommand(f: Flags, sub: string | undefined, arg: string | undefined) {
  if (sub !== 'disable') throw new UsageError('user: expected disable');
  if (!arg) throw new UsageError('user disable: give the user id, e.g. elevate-server user disable alice');
  const r = await withStore(f, existingDbSpec(f), true, (store) =>
    disableUser(store, systemClock.now(), arg, 'cli', f.reason ?? 'disabled from the command line'),
  );
  process.stderr.write(
    `${r.changed ? `disabled ${arg}` : `${arg} was already disabled`}; revoked ${r.tokensRevoked.length} token(s)${r.tokensRevoked.length ? `: ${r.tokensRevoked.join(', ')}` : ''}\n`,
  );
}

async function auditCommand(f: Flags, sub: string | undefined) {
  if (sub !== 'verify' && sub !== 'head' && sub !== 'export') throw new UsageError('audit: expected verify, head or export');
  const format = sub === 'export' ? undefined : textOrJson(f);
  await withStore(f, existingDbSpec(f), true, async (store) => {
    if (sub === 'verify') {
      let head: { seq?: number; hash: string } | undefined;
      if (f.head) {
        // accepts "HASH" or the "seq hash" line that `audit head` prints
        const parts = f.head.trim().split(/\s+/);
        const hash = parts.at(-1)!;
        if (!/^[0-9a-f]{64}$/.test(hash)) throw new UsageError('--head: expected a 64-hex-digit hash (or "seq hash" from audit head)');
        head = { hash, ...(parts.length === 2 && /^\d+$/.test(parts[0]) && { seq: Number(parts[0]) }) };
      }
      // format: checked (text|json) before the database is opened
      const r = await store.verifyAudit({ ...(head && { head }), state: f.state === true });
      process.exitCode = printVerification(r, format ?? 'text', (t) => process.stdout.write(t));
    } else if (sub === 'head') {
      const h = await store.read((tx) => tx.audit.head());
      if (format === 'json') printJson({ seq: h.seq, hash: h.hash });
      else process.stdout.write(`${h.seq} ${h.hash}\n`);
    } else if (sub === 'export') {
      const format = f.format ?? 'jsonl';
      if (format !== 'jsonl' && format !== 'csv') throw new UsageError(`--format: expected jsonl or csv, got "${format}"`);
      const time = (v: string | undefined, name: string) => {
        if (v === undefined) return undefined;
        const t = Date.parse(v);
        if (Number.isNaN(t)) throw new UsageError(`--${name}: expected an ISO-8601 time, got "${v}"`);
        return t;
      };
      exitQuietlyOnClosedPipe();
      await exportAudit(store, format, { from: time(f.from, 'from'), to: time(f.to, 'to') }, process.stdout);
    } else throw new UsageError('audit: expected verify, head or export');
  });
}

// the same bundle is the CLI and the body of the server's worker threads
if (isMainThread || !runStoreWorker(workerData))
  main(process.argv.slice(2)).catch((e: unknown) => {
    if (e instanceof UsageError || (e as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS')) {
      // one line and where to look, not the whole usage text
      // (parseArgs explains itself over several lines: those are joined into one)
      const message = e instanceof UsageError ? e.message.split('\n')[0] : (e as Error).message.replace(/\n/g, ' ');
      process.stderr.write(`elevate-server: ${message}\nRun "elevate-server --help" for usage.\n`);
      process.exit(2);
    }
    if (e instanceof CliError) {
      process.stderr.write(`elevate-server: ${e.message}\n`);
      process.exit(e.exitCode);
    }
    process.stderr.write(`elevate-server: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  });
