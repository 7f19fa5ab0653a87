// SQL for the credentials table (migration 2). Values arrive and leave sealed: this file never
// sees a plaintext secret.
import type { Database, Statement } from 'better-sqlite3';

export class CredentialStore {
  private readonly put: Statement;
  private readonly get_: Statement;
  private readonly del: Statement;
  private readonly purge_: Statement;

  constructor(db: Database) {
    // the BEFORE INSERT trigger silently drops a row for a grant that is not active
    this.put = db.prepare('INSERT OR REPLACE INTO credentials (grant_id, sealed, created_at) VALUES (?, ?, ?)');
    this.get_ = db.prepare('SELECT sealed FROM credentials WHERE grant_id = ?');
    this.del = db.prepare('DELETE FROM credentials WHERE grant_id = ?');
    this.purge_ = db.prepare(`DELETE FROM credentials WHERE grant_id NOT IN (SELECT id FROM grants WHERE status = 'active')`);
  }

  /** Stores the sealed value; false when the grant is no longer active (nothing stored). */
  store(grantId: string, sealed: Buffer, now: number): boolean {
    return this.put.run(grantId, sealed, now).changes === 1;
  }

  sealed(grantId: string): Buffer | undefined {
    return (this.get_.get(grantId) as { sealed: Buffer } | undefined)?.sealed;
  }

  remove(grantId: string): void {
    this.del.run(grantId);
  }

  /** Removes anything left for grants that are no longer active (belt and braces at start). */
  purge(): number {
    return this.purge_.run().changes;
  }
}
