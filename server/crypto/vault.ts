// Credentials issued by providers, sealed at rest with the server key and readable only through
// get(). The store drops them when their grant ends; the store only ever sees them sealed.
import { randomBytes } from 'node:crypto';
import type { Clock } from '../domain/clock.js';
import type { Store } from '../store/types.js';
import { open, seal } from './aead.js';
import { KEY_BYTES } from './serverKey.js';

export class CredentialVault {
  constructor(
    private readonly store: Store,
    private readonly key: Buffer,
    private readonly clock: Clock,
  ) {
    if (key.length !== KEY_BYTES) throw new Error(`the server key must be ${KEY_BYTES} bytes`);
  }

  /** A vault whose key lives only in memory (tests, :memory: databases): lost on restart. */
  static ephemeral(store: Store, clock: Clock): CredentialVault {
    return new CredentialVault(store, randomBytes(KEY_BYTES), clock);
  }

  /** Stores credentials for an active grant; false (nothing stored) when it is no longer active. */
  put(grantId: string, creds: Record<string, string>): Promise<boolean> {
    const sealed = seal(this.key, Buffer.from(JSON.stringify(creds), 'utf8'), grantId);
    return this.store.transaction((tx) => tx.credentials.put(grantId, sealed, this.clock.now()));
  }

  /** The credentials, or undefined when there are none (or they cannot be opened with this key). */
  async get(grantId: string): Promise<Record<string, string> | undefined> {
    const sealed = await this.store.read((tx) => tx.credentials.sealed(grantId));
    if (!sealed) return undefined;
    try {
      return JSON.parse(open(this.key, sealed, grantId).toString('utf8')) as Record<string, string>;
    } catch {
      return undefined;
    }
  }

  remove(grantId: string): Promise<void> {
    return this.store.transaction((tx) => tx.credentials.remove(grantId));
  }

  /** Drops leftovers of grants that ended (start-up). */
  purge(): Promise<number> {
    return this.store.transaction((tx) => tx.credentials.purge());
  }
}
