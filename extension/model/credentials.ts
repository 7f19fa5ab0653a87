// Pure parts of "Copy Credentials" and "Open Terminal with Grant" (no vscode import: unit-tested
// under node): what goes on the clipboard, what a terminal is called and carries, when the
// credentials can be fetched, and when whatever holds a grant's credentials must let go of them.
import { createHash } from 'node:crypto';
import type { CredentialsResponse, Grant } from '../../server/protocol';
import { ApiError } from '../api/errors';

export type Credentials = CredentialsResponse['credentials'];

// ---------- clipboard ----------

export interface ClipboardContent {
  /** `uri`: a postgresql:// connection URI; `env`: KEY=value lines */
  kind: 'uri' | 'env';
  text: string;
  /** the credential names included, for the message (never the values) */
  keys: string[];
}

const bracketHost = (host: string) => (host.includes(':') && !host.startsWith('[') ? `[${host}]` : host);

/**
 * `postgresql://user:password@host:port/db` from libpq variables, or undefined when they do not
 * describe a login (no host or user). User, password and database are percent-encoded.
 */
export function postgresUri(c: Credentials): string | undefined {
  if (!c.PGHOST || !c.PGUSER) return undefined;
  const auth = encodeURIComponent(c.PGUSER) + (c.PGPASSWORD !== undefined ? `:${encodeURIComponent(c.PGPASSWORD)}` : '');
  const port = c.PGPORT ? `:${c.PGPORT}` : '';
  const db = c.PGDATABASE ? `/${encodeURIComponent(c.PGDATABASE)}` : '';
  const params = new URLSearchParams();
  if (c.PGSSLMODE) params.set('sslmode', c.PGSSLMODE);
  const query = params.size ? `?${params.toString()}` : '';
  return `postgresql://${auth}@${bracketHost(c.PGHOST)}${port}${db}${query}`;
}

/** A value as a shell and a .env file both read it: bare when safe, else single-quoted. */
export function shellValue(value: string): string {
  return /^[A-Za-z0-9_./:@%+,=-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** What Copy Credentials puts on the clipboard: a connection URI for PG*, else KEY=value lines. */
export function clipboardContent(c: Credentials): ClipboardContent {
  const uri = postgresUri(c);
  if (uri)
    return {
      kind: 'uri',
      text: uri,
      keys: Object.keys(c)
        .filter((k) => k.startsWith('PG'))
        .sort(),
    };
  const keys = Object.keys(c).sort();
  return { kind: 'env', text: keys.map((k) => `${k}=${shellValue(c[k])}`).join('\n') + (keys.length ? '\n' : ''), keys };
}

/**
 * What identifies the text Copy Credentials put on the clipboard, so the extension can later tell
 * whether the clipboard still holds it without keeping the secret itself. Line ends are ignored: a
 * clipboard may hand text back with CRLF.
 */
export function clipboardFingerprint(text: string): string {
  return createHash('sha256').update(text.replace(/\r\n/g, '\n')).digest('base64');
}

// ---------- terminal ----------

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The credentials usable as environment variables (a provider may return other keys). */
export function terminalEnv(c: Credentials): Record<string, string> {
  return Object.fromEntries(Object.entries(c).filter(([k]) => ENV_NAME.test(k)));
}

/** `Production database (write) — until 14:30` */
export function terminalName(resourceName: string, role: string, until: string): string {
  return `${resourceName} (${role}) — until ${until}`;
}

// ---------- fetching ----------

export interface RetryOptions {
  /** how many times to ask in all */
  attempts?: number;
  delayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Fetches credentials, asking again while the server answers 409 (provisioning has not finished:
 * the outbox runs the provider just after the grant commits). Other errors fail at once; a 409
 * that outlasts the retries becomes a message that says what may be going on.
 */
export async function fetchCredentials(get: () => Promise<CredentialsResponse>, what: string, opts: RetryOptions = {}): Promise<CredentialsResponse> {
  const attempts = Math.max(1, opts.attempts ?? 8);
  const delayMs = opts.delayMs ?? 750;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let i = 1; ; i++) {
    try {
      return await get();
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 409) throw err;
      if (i >= attempts) {
        throw new ApiError(
          409,
          'conflict',
          /grant is (expired|revoked|relinquished|failed)/.test(err.message)
            ? `${what} has ended: its credentials are gone.`
            : `No credentials for ${what} yet: either its provider is still setting up access (try again in a moment) or this resource issues none (target systems check access with Elevate instead).`,
        );
      }
      await sleep(delayMs);
    }
  }
}

// ---------- letting go of credentials when grants end ----------

export type EndReason = 'expired' | 'revoked' | 'relinquished' | 'failed' | 'ended';

export interface TrackedGrant {
  grantId: string;
  /** ms */
  expiresAt: number;
}

export interface GrantsSnapshot {
  now: number;
  /** whether `active` is the server's current view (the model is ready) */
  authoritative: boolean;
  /** my active grants as the model knows them */
  active: readonly Pick<Grant, 'id' | 'expiresAt'>[];
  /** the final state of a grant the model saw end, if it did */
  ended(grantId: string): Pick<Grant, 'status'> | undefined;
}

export type ReleaseDecision = { grantId: string; action: 'release'; reason: EndReason } | { grantId: string; action: 'extend'; expiresAt: number };

const reasonOfStatus = (status: Grant['status']): EndReason | undefined =>
  status === 'expired' || status === 'revoked' || status === 'relinquished' || status === 'failed' ? status : undefined;

/**
 * For each tracked grant: let go of its credentials (and why) once it has ended, move its end when
 * it was extended, or leave it. The model's record of how a grant ended wins; then the end time (the
 * credentials stop working then, even with the server unreachable); then a grant that the server
 * no longer lists as active (the event with its reason may not have arrived).
 */
export function decideReleases(tracked: readonly TrackedGrant[], s: GrantsSnapshot): ReleaseDecision[] {
  const out: ReleaseDecision[] = [];
  const active = new Map(s.active.map((g) => [g.id, Date.parse(g.expiresAt)]));
  for (const t of tracked) {
    const ended = s.ended(t.grantId);
    const reason = ended ? reasonOfStatus(ended.status) : undefined;
    const current = active.get(t.grantId);
    if (reason && current === undefined) out.push({ grantId: t.grantId, action: 'release', reason });
    else if (current !== undefined && current > t.expiresAt) out.push({ grantId: t.grantId, action: 'extend', expiresAt: current });
    else if (s.now >= t.expiresAt) out.push({ grantId: t.grantId, action: 'release', reason: 'expired' });
    else if (s.authoritative && current === undefined) out.push({ grantId: t.grantId, action: 'release', reason: 'ended' });
  }
  return out;
}
