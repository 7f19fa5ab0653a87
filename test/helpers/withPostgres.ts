// Runs a command with an embedded PostgreSQL cluster started for it, so test files run on the
// PostgreSQL store with one cluster (each test server makes its own database in it: see
// test/helpers/backend.ts). `npm test` runs test/server and test/reliability this way (suites
// server-pg and reliability-pg, test/run.mjs). By hand:
//   node --import tsx test/helpers/withPostgres.ts node --import tsx --test test/server/lifecycle.test.ts
// The command gets ELEVATE_TEST_STORE=postgres, the cluster's URL without its password in
// ELEVATE_TEST_PG_URL, and the password in a 0600 file named by ELEVATE_TEST_PG_PASSWORD_FILE.
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPostgres } from '../providers/helpers.js';

const [cmd, ...args] = process.argv.slice(2);
if (!cmd) {
  process.stderr.write('usage: withPostgres.ts <command> [args…]\n');
  process.exit(2);
}
void (async () => {
  // A throwaway cluster: what these suites test is Elevate on PostgreSQL, not PostgreSQL's
  // durability, so commits need not wait for the disk (a clean stop still writes everything).
  // The store suite and the three-replica suite keep PostgreSQL's defaults.
  const pg = await startPostgres({ settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } });
  const admin = new URL(pg.adminUrl());
  const passwordFile = join(pg.dir, 'password');
  writeFileSync(passwordFile, `${decodeURIComponent(admin.password)}\n`, { mode: 0o600 });
  admin.password = '';
  const child = spawn(cmd, args, {
    stdio: 'inherit',
    env: { ...process.env, ELEVATE_TEST_STORE: 'postgres', ELEVATE_TEST_PG_URL: admin.toString(), ELEVATE_TEST_PG_PASSWORD_FILE: passwordFile },
  });
  const stop = async (code: number) => {
    await pg.destroy().catch(() => {});
    rmSync(passwordFile, { force: true });
    process.exit(code);
  };
  for (const s of ['SIGINT', 'SIGTERM'] as const) process.on(s, () => child.kill(s));
  child.on('exit', (code, signal) => void stop(code ?? (signal ? 1 : 0)));
})();
