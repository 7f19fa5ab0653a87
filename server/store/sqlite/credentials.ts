// Credentials issued by providers, sealed with the server key (migration 2). Values arrive and
// leave sealed: this file never sees a plaintext secret. The migration's triggers keep a row
// only while its grant is active (an insert for an ended grant is ignored, ending a grant
// deletes its row), whoever writes.
import type { Database, Statement } from 'better-sqlite3';
import type { CredentialRepo } from '../types.js';

export class SqliteCredentials implements CredentialRepo {
  private readonly putStmt: Statement;
  private readonly getStmt: Statement;
  private readonly delStmt: Statement;
  private readonly purgeStmt: Statement;

  constructor(db: Database) {
    // the BEFORE INSERT trigger silently drops a row for a grant that is not active: 0 changes
    this.putStmt = db.prepare('INSERT OR REPLACE INTO credentials (grant_id, sealed, created_at) VALUES (?, ?, ?)');
    this.getStmt = db.prepare('SELECT sealed FROM credentials WHERE grant_id = ?');
    this.delStmt = db.prepare('DELETE FROM credentials WHERE grant_id = ?');
    this.purgeStmt = db.prepare(`DELETE FROM credentials WHERE grant_id NOT IN (SELECT id FROM grants WHERE status = 'active')`);
  }

  async put(grantId: string, sealed: Buffer, now: number): Promise<boolean> {
    return this.putStmt.run(grantId, sealed, now).changes === 1;
  }
  async sealed(grantId: string): Promise<Buffer | undefined> {
    return (this.getStmt.get(grantId) as { sealed: Buffer } | undefined)?.sealed;
  }
  async remove(grantId: string): Promise<void> {
    this.delStmt.run(grantId);
  }
  async purge(): Promise<number> {
    return this.purgeStmt.run().changes;
  }
}
