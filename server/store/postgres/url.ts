// The connection URL and its password. The password may come from the URL itself, from
// --db-password-file (opts.password), from PGPASSWORD or from a PGPASSFILE (~/.pgpass): the
// libpq order, the URL first. It is resolved here once, into the URL that only the pool sees;
// everything that is shown (logs, errors, /healthz) gets redactUrl's copy.
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const REDACTED = '***';

/** The URL with its password (in the userinfo or a `password=` parameter) replaced by ***. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = REDACTED;
    for (const key of [...u.searchParams.keys()]) if (key.toLowerCase() === 'password') u.searchParams.set(key, REDACTED);
    return u.href;
  } catch {
    // not a URL we can parse: hide anything between "user:" and "@", and any password= value
    return url.replace(/(\/\/[^/:@]*:)[^@]*@/, `$1${REDACTED}@`).replace(/(password=)[^&]*/gi, `$1${REDACTED}`);
  }
}

/** Removes `secret` wherever it appears in `text` (an error message that quotes the URL). */
export function scrub(text: string, secret: string | undefined): string {
  return secret ? text.split(secret).join(REDACTED) : text;
}

export interface Resolved {
  /** the URL to connect with, the password filled in when it came from elsewhere */
  url: string;
  /** the password in use (to scrub from messages), if any */
  password: string | undefined;
}

/**
 * Fills in the password from the first source that has one: the URL, `password` (from
 * --db-password-file), PGPASSWORD, then the PGPASSFILE (default ~/.pgpass) entry matching the
 * host, port, database and user. Without any, the URL is used as it is (trust/peer auth).
 */
export function resolvePassword(url: string, password?: string, env: NodeJS.ProcessEnv = process.env): Resolved {
  const u = new URL(url);
  const inUrl = u.password !== '' ? decodeURIComponent(u.password) : (u.searchParams.get('password') ?? undefined);
  if (inUrl !== undefined) return { url, password: inUrl };
  // pg's own default user when the URL names none
  const user = decodeURIComponent(u.username) || env.PGUSER || env.USER || 'postgres';
  const found =
    password ??
    (env.PGPASSWORD || undefined) ??
    pgpassLookup(env.PGPASSFILE ?? join(homedir(), '.pgpass'), {
      host: u.hostname || 'localhost',
      port: u.port || '5432',
      database: decodeURIComponent(u.pathname.slice(1)) || user,
      user,
    });
  if (found === undefined) return { url, password: undefined };
  u.password = encodeURIComponent(found);
  return { url: u.href, password: found };
}

/**
 * The password of the first line of a pgpass file matching the connection (fields
 * host:port:database:user:password, `*` matches anything, `\:` and `\\` are escapes). Like
 * libpq, a file that others can read is ignored.
 */
export function pgpassLookup(file: string, c: { host: string; port: string; database: string; user: string }): string | undefined {
  let text: string;
  try {
    if ((statSync(file).mode & 0o077) !== 0) return undefined;
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  return pgpassMatch(text, c);
}

/** The pure part of pgpassLookup: the password of the first matching line, if any. */
export function pgpassMatch(text: string, c: { host: string; port: string; database: string; user: string }): string | undefined {
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const fields = splitPgpassLine(line);
    if (fields.length < 5) continue;
    const [host, port, database, user, password] = fields;
    const match = (pattern: string, value: string) => pattern === '*' || pattern === value;
    if (match(host, c.host) && match(port, c.port) && match(database, c.database) && match(user, c.user)) return password;
  }
  return undefined;
}

function splitPgpassLine(line: string): string[] {
  const fields: string[] = [];
  let cur = '';
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === '\\' && i + 1 < line.length) cur += line[++i];
    else if (ch === ':' && fields.length < 4) {
      fields.push(cur);
      cur = '';
    } else cur += ch;
  }
  fields.push(cur);
  return fields;
}
