// Sign-in through the OpenID provider on SQLite (migration 6): the users the IdP vouched for,
// device codes (RFC 8628) and browser sign-in attempts. Every status change is a conditional
// update: one that did not apply returns false, so a code or an attempt is used once only.
import type { Database, Statement } from 'better-sqlite3';
import type { DeviceCode, DeviceStatus, IdentityRepo, IdpUser, NewDeviceCode, OidcLogin } from '../types.js';
import { strings } from '../columns.js';

interface IdpUserRow {
  id: string;
  issuer: string | null;
  subject: string | null;
  name: string;
  email: string | null;
  groups: string;
  roles: string;
  last_sign_in_at: number | null;
  disabled_at: number | null;
}

interface DeviceRow {
  id: string;
  status: DeviceStatus;
  user_id: string | null;
  denied_reason: string | null;
  interval_s: number;
  created_at: number;
  expires_at: number;
  last_polled_at: number | null;
  client_ip: string | null;
  client_name: string | null;
}

interface LoginRow {
  device_id: string;
  browser_hash: Buffer;
  nonce: string;
  code_verifier: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

const toUser = (r: IdpUserRow): IdpUser => ({
  id: r.id,
  issuer: r.issuer,
  subject: r.subject,
  name: r.name,
  email: r.email,
  groups: strings(r.groups),
  roles: strings(r.roles),
  lastSignInAt: r.last_sign_in_at,
  disabledAt: r.disabled_at,
});

const toDevice = (r: DeviceRow): DeviceCode => ({
  id: r.id,
  status: r.status,
  userId: r.user_id,
  deniedReason: r.denied_reason,
  intervalS: r.interval_s,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  lastPolledAt: r.last_polled_at,
  clientIp: r.client_ip,
  clientName: r.client_name,
});

const toLogin = (r: LoginRow): OidcLogin => ({
  deviceId: r.device_id,
  browserHash: r.browser_hash,
  nonce: r.nonce,
  codeVerifier: r.code_verifier,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  usedAt: r.used_at,
});

export class SqliteIdentity implements IdentityRepo {
  private readonly s: Record<
    | 'users'
    | 'user'
    | 'upsertUser'
    | 'disable'
    | 'enable'
    | 'insertDevice'
    | 'deviceByHash'
    | 'deviceByUserCode'
    | 'deviceById'
    | 'polled'
    | 'approve'
    | 'deny'
    | 'consume'
    | 'insertLogin'
    | 'login'
    | 'useLogin'
    | 'purgeDevices'
    | 'purgeLogins',
    Statement
  >;

  constructor(db: Database) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      users: p('SELECT * FROM idp_users ORDER BY id'),
      user: p('SELECT * FROM idp_users WHERE id = ?'),
      upsertUser: p(`INSERT INTO idp_users (id, issuer, subject, name, email, groups, roles, last_sign_in_at)
          VALUES (@id, @issuer, @subject, @name, @email, @groups, @roles, @at)
        ON CONFLICT(id) DO UPDATE SET issuer = excluded.issuer, subject = excluded.subject, name = excluded.name,
          email = excluded.email, groups = excluded.groups, roles = excluded.roles, last_sign_in_at = excluded.last_sign_in_at`),
      disable: p(`INSERT INTO idp_users (id, name, groups, roles, disabled_at) VALUES (?, ?, '[]', '[]', ?)
        ON CONFLICT(id) DO UPDATE SET disabled_at = excluded.disabled_at WHERE disabled_at IS NULL`),
      enable: p('UPDATE idp_users SET disabled_at = NULL WHERE id = ? AND disabled_at IS NOT NULL'),

      insertDevice: p(`INSERT INTO device_codes (id, device_hash, user_code_hash, status, interval_s, created_at, expires_at, client_ip, client_name)
        VALUES (@id, @deviceHash, @userCodeHash, 'pending', @intervalS, @createdAt, @expiresAt, @clientIp, @clientName)`),
      deviceByHash: p('SELECT * FROM device_codes WHERE device_hash = ?'),
      deviceByUserCode: p('SELECT * FROM device_codes WHERE user_code_hash = ?'),
      deviceById: p('SELECT * FROM device_codes WHERE id = ?'),
      polled: p('UPDATE device_codes SET last_polled_at = ?, interval_s = ? WHERE id = ?'),
      approve: p(`UPDATE device_codes SET status = 'approved', user_id = ? WHERE id = ? AND status = 'pending'`),
      deny: p(`UPDATE device_codes SET status = 'denied', denied_reason = ? WHERE id = ? AND status = 'pending'`),
      consume: p(`UPDATE device_codes SET status = 'consumed' WHERE id = ? AND status = 'approved'`),

      insertLogin: p(`INSERT INTO oidc_logins (state_hash, device_id, browser_hash, nonce, code_verifier, created_at, expires_at)
        VALUES (?, ?, ?, ?, ?, ?, ?)`),
      login: p('SELECT * FROM oidc_logins WHERE state_hash = ?'),
      useLogin: p('UPDATE oidc_logins SET used_at = ? WHERE state_hash = ? AND used_at IS NULL'),

      purgeDevices: p('DELETE FROM device_codes WHERE expires_at <= ?'),
      purgeLogins: p('DELETE FROM oidc_logins WHERE expires_at <= ?'),
    };
  }

  async users(): Promise<IdpUser[]> {
    return (this.s.users.all() as IdpUserRow[]).map(toUser);
  }
  async user(id: string): Promise<IdpUser | undefined> {
    const r = this.s.user.get(id) as IdpUserRow | undefined;
    return r && toUser(r);
  }
  /** The user's claims and groups as the IdP gave them this time. */
  async recordSignIn(u: Omit<IdpUser, 'lastSignInAt' | 'disabledAt'>, at: number): Promise<void> {
    this.s.upsertUser.run({ ...u, groups: JSON.stringify(u.groups), roles: JSON.stringify(u.roles), at });
  }
  /** Marks a user disabled (creating the record for one never seen); false when already disabled. */
  async disable(id: string, at: number): Promise<boolean> {
    return this.s.disable.run(id, id, at).changes === 1;
  }
  async enable(id: string): Promise<boolean> {
    return this.s.enable.run(id).changes === 1;
  }

  async insertDevice(d: NewDeviceCode): Promise<void> {
    this.s.insertDevice.run(d);
  }
  async deviceByHash(hash: Buffer): Promise<DeviceCode | undefined> {
    const r = this.s.deviceByHash.get(hash) as DeviceRow | undefined;
    return r && toDevice(r);
  }
  async deviceByUserCode(hash: Buffer): Promise<DeviceCode | undefined> {
    const r = this.s.deviceByUserCode.get(hash) as DeviceRow | undefined;
    return r && toDevice(r);
  }
  async device(id: string): Promise<DeviceCode | undefined> {
    const r = this.s.deviceById.get(id) as DeviceRow | undefined;
    return r && toDevice(r);
  }
  async recordPoll(id: string, at: number, intervalS: number): Promise<void> {
    this.s.polled.run(at, intervalS, id);
  }
  async approveDevice(id: string, userId: string): Promise<boolean> {
    return this.s.approve.run(userId, id).changes === 1;
  }
  async denyDevice(id: string, reason: string): Promise<boolean> {
    return this.s.deny.run(reason, id).changes === 1;
  }
  /** approved → consumed: true exactly once, for the poll that gets the session */
  async consumeDevice(id: string): Promise<boolean> {
    return this.s.consume.run(id).changes === 1;
  }

  async insertLogin(stateHash: Buffer, l: Omit<OidcLogin, 'usedAt'>): Promise<void> {
    this.s.insertLogin.run(stateHash, l.deviceId, l.browserHash, l.nonce, l.codeVerifier, l.createdAt, l.expiresAt);
  }
  async login(stateHash: Buffer): Promise<OidcLogin | undefined> {
    const r = this.s.login.get(stateHash) as LoginRow | undefined;
    return r && toLogin(r);
  }
  /** false when the attempt was used already (a replayed callback) */
  async useLogin(stateHash: Buffer, at: number): Promise<boolean> {
    return this.s.useLogin.run(at, stateHash).changes === 1;
  }
  /** Forgets codes and attempts that ended before `before`. */
  async purge(before: number): Promise<void> {
    this.s.purgeDevices.run(before);
    this.s.purgeLogins.run(before);
  }
}
