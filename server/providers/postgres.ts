// type "postgres": each grant is a LOGIN role of its own, member of the role its requested access
// maps to, with a random password and VALID UNTIL the grant's end, so PostgreSQL refuses the
// login after expiry even when Elevate is down. Ending it terminates its sessions, hands what it
// created to the configured owner (REASSIGN OWNED), drops what remains (DROP OWNED: privileges,
// default ACLs) and drops the role. Every call is idempotent.
//
// The password never reaches PostgreSQL (or its statement log) in clear: the role gets a
// SCRAM-SHA-256 verifier computed here. Role names and literals are quoted by pg's escapers.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import pg from 'pg';
import type { ProviderConfig } from '../domain/types.js';
import { PostgresConfig, parseProviderConfig, readSecret } from './config.js';
import type { Credentials, Provider, ProvisionedGrant } from './types.js';

const DEFAULT_TIMEOUT_S = 20;
const SCRAM_ITERATIONS = 4096;

/** `elevate_<user>_<16 hex of the grant id's hash>`: readable in pg_stat_activity, unique per grant. */
export function loginRoleName(grant: Pick<ProvisionedGrant, 'id' | 'userId'>, prefix = 'elevate_'): string {
  const who = grant.userId
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .slice(0, 16);
  const tag = createHash('sha256').update(grant.id).digest('hex').slice(0, 16);
  return `${prefix}${who}_${tag}`;
}

/** A SCRAM-SHA-256 verifier as PostgreSQL stores it (RFC 5802/7677; the password is ASCII, so SASLprep is the identity). */
export function scramVerifier(password: string, salt = randomBytes(16), iterations = SCRAM_ITERATIONS): string {
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** The admin connection string pointed at another database (URL form only). */
function inDatabase(connectionString: string, database: string): string {
  if (!URL.canParse(connectionString)) throw new Error('the admin connection must be a postgres:// URL to reach other databases');
  const u = new URL(connectionString);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

type Client = pg.Client;

async function withClient<T>(connectionString: string, signal: AbortSignal, timeoutMs: number, fn: (c: Client) => Promise<T>): Promise<T> {
  signal.throwIfAborted();
  const client = new pg.Client({
    connectionString,
    connectionTimeoutMillis: Math.min(timeoutMs, 10_000),
    statement_timeout: timeoutMs,
    application_name: 'elevate',
  });
  // an aborted call closes its socket, so nothing keeps running on the target after a timeout
  const onAbort = () => void client.end().catch(() => {});
  signal.addEventListener('abort', onAbort, { once: true });
  // errors after connect (e.g. the server went away) surface through the next query
  client.on('error', () => {});
  try {
    await client.connect();
    return await fn(client);
  } finally {
    signal.removeEventListener('abort', onAbort);
    await client.end().catch(() => {});
  }
}

const roleExists = async (c: Client, role: string) => (await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount === 1;

export function postgresProvider(): Provider {
  const setup = (config: ProviderConfig, signal: AbortSignal) => {
    const cfg = parseProviderConfig(PostgresConfig, config);
    const timeoutMs = (cfg.timeout ?? DEFAULT_TIMEOUT_S) * 1000;
    return { cfg, timeoutMs, signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]), admin: readSecret(cfg.connection) };
  };

  return {
    async grant(grant: ProvisionedGrant, config: ProviderConfig, outer: AbortSignal): Promise<Credentials> {
      const { cfg, timeoutMs, signal, admin } = setup(config, outer);
      const target = cfg.roles[grant.role];
      if (!target) throw new Error(`no PostgreSQL role is configured for role "${grant.role}"`);
      const role = loginRoleName(grant, cfg.rolePrefix);
      const password = randomBytes(24).toString('base64url');
      const validUntil = new Date(grant.expiresAt).toISOString();
      return withClient(admin, signal, timeoutMs, async (c) => {
        const id = c.escapeIdentifier(role);
        const attrs = `LOGIN INHERIT PASSWORD ${c.escapeLiteral(scramVerifier(password))} VALID UNTIL ${c.escapeLiteral(validUntil)}`;
        await c.query('BEGIN');
        try {
          // a retried grant (crash after CREATE) finds its role and only resets password and end
          if (await roleExists(c, role)) await c.query(`ALTER ROLE ${id} WITH ${attrs}`);
          else await c.query(`CREATE ROLE ${id} WITH ${attrs}`);
          await c.query(`GRANT ${c.escapeIdentifier(target)} TO ${id}`);
          await c.query('COMMIT');
        } catch (e) {
          await c.query('ROLLBACK').catch(() => {});
          throw e;
        }
        const info = c as unknown as { host: string; port: number; database: string };
        return {
          PGHOST: cfg.host ?? info.host,
          PGPORT: String(cfg.port ?? info.port),
          PGUSER: role,
          PGPASSWORD: password,
          PGDATABASE: cfg.database ?? info.database,
        };
      });
    },

    async extend(grant: ProvisionedGrant, config: ProviderConfig, outer: AbortSignal): Promise<void> {
      const { cfg, timeoutMs, signal, admin } = setup(config, outer);
      const role = loginRoleName(grant, cfg.rolePrefix);
      await withClient(admin, signal, timeoutMs, async (c) => {
        // no role yet: provisioning (which reads the current end) has not run; nothing to move
        if (!(await roleExists(c, role))) return;
        await c.query(`ALTER ROLE ${c.escapeIdentifier(role)} VALID UNTIL ${c.escapeLiteral(new Date(grant.expiresAt).toISOString())}`);
      });
    },

    async revoke(grant: ProvisionedGrant, config: ProviderConfig, outer: AbortSignal): Promise<void> {
      const { cfg, timeoutMs, signal, admin } = setup(config, outer);
      const role = loginRoleName(grant, cfg.rolePrefix);
      const databases = await withClient(admin, signal, timeoutMs, async (c) => {
        if (!(await roleExists(c, role))) return null;
        const id = c.escapeIdentifier(role);
        // no new logins from here on, then end the ones that are open
        await c.query(`ALTER ROLE ${id} NOLOGIN VALID UNTIL '-infinity'`);
        for (let i = 0; i < 50; i++) {
          const r = await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()', [role]);
          if (r.rowCount === 0) break;
          await new Promise((res) => setTimeout(res, 50));
        }
        // every database where the role owns objects or holds privileges, plus the configured ones
        const deps = await c.query(
          `SELECT DISTINCT d.datname FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid
            WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = (SELECT oid FROM pg_roles WHERE rolname = $1)`,
          [role],
        );
        const own = (c as unknown as { database: string }).database;
        return [...new Set([cfg.database ?? own, ...(cfg.databases ?? []), ...deps.rows.map((r: { datname: string }) => r.datname)])];
      });
      if (databases === null) return;
      for (const db of databases) {
        await withClient(inDatabase(admin, db), signal, timeoutMs, async (c) => {
          const id = c.escapeIdentifier(role);
          await c.query(`REASSIGN OWNED BY ${id} TO ${c.escapeIdentifier(cfg.owner)}`);
          await c.query(`DROP OWNED BY ${id}`);
        });
      }
      await withClient(admin, signal, timeoutMs, async (c) => {
        await c.query(`DROP ROLE IF EXISTS ${c.escapeIdentifier(role)}`);
      });
    },
  };
}
