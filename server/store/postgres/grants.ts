// Grants and their sealed credentials on PostgreSQL. Ending and extending are conditional
// updates; claims of due work (expiry, warnings) lock the rows they take with FOR UPDATE SKIP
// LOCKED, so replicas claiming at once split the rows between them and none is taken twice.
import type { CredentialRepo, GrantRecord, GrantRepo, GrantStatus, NewGrant } from '../types.js';
import { type GrantRow, toGrant } from './rows.js';
import { type Ctx, minOf, sql } from './sql.js';

const S = {
  get: sql('SELECT * FROM grants WHERE id = $1'),
  insert: sql(`INSERT INTO grants (id, request_id, user_id, resource_id, role, starts_at, expires_at, max_expires_at, warned, status)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'active')`),
  end: sql(`UPDATE grants SET status = $1, ended_at = $2, ended_by = $3, end_reason = $4, revoke_pending = $5 WHERE id = $6 AND status = 'active'`),
  extend: sql(`UPDATE grants SET expires_at = $3, max_expires_at = $4, extensions = extensions + 1, warned = 0
    WHERE id = $1 AND status = 'active' AND expires_at = $2`),
  refreshMaxExpires: sql(`UPDATE grants SET max_expires_at = GREATEST(expires_at, starts_at + $2)
    WHERE status = 'active' AND resource_id = $1 AND max_expires_at <> GREATEST(expires_at, starts_at + $2)`),
  activeCombos: sql(`SELECT DISTINCT user_id, resource_id, role FROM grants WHERE status = 'active'`),
  activeOf: sql(`SELECT * FROM grants WHERE status = 'active' AND user_id = $1 AND resource_id = $2 AND role = $3`),
  setWarned: sql('UPDATE grants SET warned = $2 WHERE id = $1'),
  setRevokePending: sql('UPDATE grants SET revoke_pending = $2 WHERE id = $1'),
  // The inner SELECT locks the due rows it takes and skips rows another replica has locked; a
  // row ended meanwhile is re-checked against the WHERE clause when locked (READ COMMITTED), so
  // each grant is expired by exactly one transaction.
  // (MATERIALIZED: the claim runs once, whatever plan the UPDATE gets)
  expireDue: sql(`WITH due AS MATERIALIZED (
      SELECT id FROM grants WHERE status = 'active' AND expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)
    UPDATE grants g SET status = 'expired', ended_at = g.expires_at, ended_by = 'system', end_reason = 'expired',
      revoke_pending = (g.resource_id = ANY($3::text[]))
    FROM due WHERE g.id = due.id AND g.status = 'active'
    RETURNING g.*`),
  // literal bits match the partial indexes of migration 3
  dueWarnings1: sql(
    `SELECT * FROM grants WHERE status = 'active' AND (warned & 1) = 0 AND expires_at > $1 AND expires_at <= $2 ORDER BY expires_at LIMIT 1000`,
  ),
  dueWarnings2: sql(
    `SELECT * FROM grants WHERE status = 'active' AND (warned & 2) = 0 AND expires_at > $1 AND expires_at <= $2 ORDER BY expires_at LIMIT 1000`,
  ),
  // in a transaction (which then sets the bit): one replica raises each warning
  dueWarnings1Locked: sql(`SELECT * FROM grants WHERE status = 'active' AND (warned & 1) = 0 AND expires_at > $1 AND expires_at <= $2
    ORDER BY expires_at LIMIT 1000 FOR UPDATE SKIP LOCKED`),
  dueWarnings2Locked: sql(`SELECT * FROM grants WHERE status = 'active' AND (warned & 2) = 0 AND expires_at > $1 AND expires_at <= $2
    ORDER BY expires_at LIMIT 1000 FOR UPDATE SKIP LOCKED`),
  // each branch repeats its partial index's WHERE, so each is one index seek
  nextDue: sql(`SELECT MIN(t) AS t FROM (
      SELECT MIN(expires_at) AS t FROM grants WHERE status = 'active'
      UNION ALL SELECT MIN(expires_at) - $1 FROM grants WHERE status = 'active' AND (warned & 1) = 0
      UNION ALL SELECT MIN(expires_at) - $2 FROM grants WHERE status = 'active' AND (warned & 2) = 0
      UNION ALL SELECT MIN(pending_until) FROM requests WHERE status = 'pending') due`),
  active: sql(`SELECT * FROM grants WHERE status = 'active' ORDER BY expires_at`),
  activeForUser: sql(`SELECT * FROM grants WHERE status = 'active' AND user_id = $1`),
  activeForResource: sql(`SELECT * FROM grants WHERE status = 'active' AND resource_id = $1`),
  check: sql(`SELECT id, expires_at FROM grants WHERE status = 'active' AND user_id = $1 AND resource_id = $2 AND role = $3 AND expires_at > $4
    ORDER BY expires_at DESC LIMIT 1`),

  // the insert trigger (migration 2) drops a row for a grant that is not active
  putCredential: sql(`INSERT INTO credentials (grant_id, sealed, created_at) VALUES ($1, $2, $3)
    ON CONFLICT (grant_id) DO UPDATE SET sealed = excluded.sealed, created_at = excluded.created_at`),
  sealed: sql('SELECT sealed FROM credentials WHERE grant_id = $1'),
  removeCredential: sql('DELETE FROM credentials WHERE grant_id = $1'),
  purgeCredentials: sql(`DELETE FROM credentials WHERE grant_id NOT IN (SELECT id FROM grants WHERE status = 'active')`),
};

const warnBit = (bit: number): 1 | 2 => {
  if (bit !== 1 && bit !== 2) throw new Error(`unknown warning bit ${bit}`);
  return bit;
};

export class PgGrants implements GrantRepo {
  constructor(private readonly c: Ctx) {}

  async get(id: string): Promise<GrantRecord | undefined> {
    const r = await this.c.row<GrantRow>(S.get, [id]);
    return r && toGrant(r);
  }
  async insert(g: NewGrant): Promise<void> {
    await this.c.run(S.insert, [g.id, g.requestId, g.userId, g.resourceId, g.role, g.startsAt, g.expiresAt, g.maxExpiresAt, g.warned ?? 0]);
  }
  async end(id: string, status: Exclude<GrantStatus, 'active'>, at: number, by: string, reason: string | null, revokePending: boolean): Promise<boolean> {
    return (await this.c.run(S.end, [status, at, by, reason, revokePending, id])) === 1;
  }
  async extend(id: string, fromExpiresAt: number, expiresAt: number, maxExpiresAt: number): Promise<boolean> {
    return (await this.c.run(S.extend, [id, fromExpiresAt, expiresAt, maxExpiresAt])) === 1;
  }
  async refreshMaxExpires(resourceId: string, maxTotalMs: number): Promise<void> {
    await this.c.run(S.refreshMaxExpires, [resourceId, maxTotalMs]);
  }
  async activeCombos(): Promise<{ userId: string; resourceId: string; role: string }[]> {
    const rows = await this.c.rows<{ user_id: string; resource_id: string; role: string }>(S.activeCombos);
    return rows.map((r) => ({ userId: r.user_id, resourceId: r.resource_id, role: r.role }));
  }
  async activeOf(userId: string, resourceId: string, role: string): Promise<GrantRecord[]> {
    return (await this.c.rows<GrantRow>(S.activeOf, [userId, resourceId, role])).map(toGrant);
  }
  async setWarned(id: string, mask: number): Promise<void> {
    await this.c.run(S.setWarned, [id, mask]);
  }
  async setRevokePending(id: string, pending: boolean): Promise<void> {
    await this.c.run(S.setRevokePending, [id, pending]);
  }
  async expireDue(now: number, limit: number, deprovisioned: string[]): Promise<GrantRecord[]> {
    const rows = await this.c.writeRows<GrantRow>(S.expireDue, [now, limit, deprovisioned]);
    return rows.sort((a, b) => a.expires_at - b.expires_at || a.seq - b.seq).map(toGrant);
  }
  async dueWarnings(now: number, beforeMs: number, bit: number): Promise<GrantRecord[]> {
    const b = warnBit(bit);
    const s = this.c.inTx ? (b === 1 ? S.dueWarnings1Locked : S.dueWarnings2Locked) : b === 1 ? S.dueWarnings1 : S.dueWarnings2;
    return (await this.c.rows<GrantRow>(s, [now, now + beforeMs])).map(toGrant);
  }
  nextDue(leadMs: Readonly<Record<1 | 2, number>>): Promise<number | null> {
    return minOf(this.c, S.nextDue, [leadMs[1], leadMs[2]]);
  }
  async active(): Promise<GrantRecord[]> {
    return (await this.c.rows<GrantRow>(S.active)).map(toGrant);
  }
  async activeFor(by: { userId: string } | { resourceId: string }): Promise<GrantRecord[]> {
    const rows = 'userId' in by ? await this.c.rows<GrantRow>(S.activeForUser, [by.userId]) : await this.c.rows<GrantRow>(S.activeForResource, [by.resourceId]);
    return rows.map(toGrant);
  }
  async check(userId: string, resourceId: string, role: string, now: number): Promise<{ id: string; expiresAt: number } | undefined> {
    const r = await this.c.row<{ id: string; expires_at: number }>(S.check, [userId, resourceId, role, now]);
    return r && { id: r.id, expiresAt: r.expires_at };
  }
  async list(f: { userId?: string; resourceIds?: string[]; status?: GrantStatus; beforeSeq?: number; limit: number }): Promise<GrantRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const arg = (v: unknown) => `$${args.push(v)}`;
    if (f.userId !== undefined) where.push(`user_id = ${arg(f.userId)}`);
    if (f.resourceIds !== undefined) {
      if (f.resourceIds.length === 0) return [];
      where.push(`resource_id = ANY(${arg(f.resourceIds)})`);
    }
    if (f.status !== undefined) where.push(`status = ${arg(f.status)}`);
    if (f.beforeSeq !== undefined) where.push(`seq < ${arg(f.beforeSeq)}`);
    const text = `SELECT * FROM grants${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ${arg(f.limit)}`;
    return (await this.c.rows<GrantRow>(text, args)).map(toGrant);
  }
}

export class PgCredentials implements CredentialRepo {
  constructor(private readonly c: Ctx) {}

  async put(grantId: string, sealed: Buffer, now: number): Promise<boolean> {
    return (await this.c.run(S.putCredential, [grantId, sealed, now])) === 1;
  }
  async sealed(grantId: string): Promise<Buffer | undefined> {
    return (await this.c.row<{ sealed: Buffer }>(S.sealed, [grantId]))?.sealed;
  }
  async remove(grantId: string): Promise<void> {
    await this.c.run(S.removeCredential, [grantId]);
  }
  async purge(): Promise<number> {
    return this.c.run(S.purgeCredentials);
  }
}
