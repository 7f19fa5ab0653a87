// Credentials issued by providers, sealed at rest with the server key and readable only through
// get(). The table's triggers drop them when their grant ends (migration 2).
import type { Database } from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import type { Clock } from '../domain/clock.js';
import { CredentialStore } from '../db/credentials.js';
import { open, seal } from './aead.js';
import { KEY_BYTES } from './serverKey.js';

export class CredentialVault {
  private readonly rows: CredentialStore;

  constructor(
    db: Database,
    private readonly key: Buffer,
    private readonly clock: Clock,
  ) {
    if (key.length !== KEY_BYTES) throw new Error(`the server key must be ${KEY_BYTES} bytes`);
    this.rows = new CredentialStore(db);
  }

  /** A vault whose key lives only in memory (tests, :memory: databases): lost on restart. */
  static ephemeral(db: Database, clock: Clock): CredentialVault {
    return new CredentialVault(db, randomBytes(KEY_BYTES), clock);
  }

  /** Stores credentials for an active grant; false (nothing stored) when it is no longer active. */
  put(grantId: string, creds: Record<string, string>): boolean {
    return this.rows.store(grantId, seal(this.key, Buffer.from(JSON.stringify(creds), 'utf8'), grantId), this.clock.now());
  }

  /** The credentials, or undefined when there are none (or they cannot be opened with this key). */
  get(grantId: string): Record<string, string> | undefined {
    const sealed = this.rows.sealed(grantId);
    if (!sealed) return undefined;
    try {
      return JSON.parse(open(this.key, sealed, grantId).toString('utf8')) as Record<string, string>;
    } catch {
      return undefined;
    }
  }

  remove(grantId: string): void {
    this.rows.remove(grantId);
  }

  /** Drops leftovers of grants that ended (start-up). */
  purge(): number {
    return this.rows.purge();
  }
}
