// Versioned schema migrations, applied in order inside one transaction each; the version lives
// in PRAGMA user_version. Never edit a released migration: add a new one.
import type { Database } from 'better-sqlite3';

export const migrations: string[] = [
  // 1: initial schema
  `
  CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    groups TEXT NOT NULL,
    roles TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1
  );

  CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    hash BLOB NOT NULL UNIQUE,         -- SHA-256 of the token; the token itself is never stored
    label TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER,
    last_used_at INTEGER
  );
  CREATE INDEX tokens_user ON tokens(user_id);

  CREATE TABLE requests (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('access', 'extension')),
    requester_id TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    role TEXT NOT NULL,
    duration_s INTEGER NOT NULL CHECK (duration_s > 0),
    justification TEXT NOT NULL,
    ticket TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'cancelled', 'expired')),
    grant_id TEXT,
    required INTEGER NOT NULL,
    auto_approved INTEGER NOT NULL,
    break_glass INTEGER NOT NULL,
    evaluation TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    decided_at INTEGER,
    pending_until INTEGER NOT NULL
  );
  CREATE INDEX requests_requester ON requests(requester_id, seq);
  CREATE INDEX requests_resource ON requests(resource_id, status, seq);
  CREATE INDEX requests_pending_until ON requests(pending_until) WHERE status = 'pending';
  -- at most one pending extension request per grant (contract)
  CREATE UNIQUE INDEX requests_one_pending_extension ON requests(grant_id)
    WHERE kind = 'extension' AND status = 'pending';

  CREATE TABLE approvals (
    request_id TEXT NOT NULL,
    approver_id TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('approve', 'deny')),
    comment TEXT,
    at INTEGER NOT NULL,
    PRIMARY KEY (request_id, approver_id)
  );

  CREATE TABLE grants (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    request_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    role TEXT NOT NULL,
    starts_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    max_expires_at INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'expired', 'revoked', 'relinquished', 'failed')),
    extensions INTEGER NOT NULL DEFAULT 0,
    revoke_pending INTEGER NOT NULL DEFAULT 0,
    ended_at INTEGER,
    ended_by TEXT,
    end_reason TEXT,
    warned INTEGER NOT NULL DEFAULT 0,  -- bit 1: 5-min warning sent, bit 2: 1-min (for the current expires_at)
    CHECK (expires_at <= max_expires_at)
  );
  CREATE INDEX grants_user ON grants(user_id, seq);
  CREATE INDEX grants_resource ON grants(resource_id, seq);
  CREATE INDEX grants_active_expiry ON grants(expires_at) WHERE status = 'active';
  CREATE INDEX grants_check ON grants(user_id, resource_id, role) WHERE status = 'active';

  CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor_id TEXT NOT NULL,
    action TEXT NOT NULL,
    resource_id TEXT,
    request_id TEXT,
    grant_id TEXT,
    subject_id TEXT,                   -- the requester/grantee the event is about (visibility)
    details TEXT NOT NULL,             -- canonical JSON, exactly what the hash covers
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
  );
  CREATE INDEX audit_actor ON audit(actor_id, seq);
  CREATE INDEX audit_subject ON audit(subject_id, seq);
  CREATE INDEX audit_resource ON audit(resource_id, seq);
  CREATE INDEX audit_action ON audit(action, seq);
  CREATE INDEX audit_at ON audit(at);
  -- append-only: the application can never change or remove an audit row
  CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
  CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;

  -- side effects on other systems, written in the same transaction as the state change and
  -- executed after commit by the outbox worker (rule 3)
  CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    grant_id TEXT,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    done_at INTEGER
  );
  CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE done_at IS NULL;
  `,
  // 2: credentials issued by providers, sealed with the server key (AES-256-GCM, the grant id
  // as associated data). The triggers keep them only while the grant is active: a row for a
  // grant that is not active is never stored, and ending a grant (any path, inside the engine's
  // own transaction) deletes its row.
  `
  CREATE TABLE credentials (
    grant_id TEXT PRIMARY KEY,
    sealed BLOB NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TRIGGER credentials_only_active BEFORE INSERT ON credentials
    WHEN (SELECT status FROM grants WHERE id = NEW.grant_id) IS NOT 'active'
    BEGIN SELECT RAISE(IGNORE); END;
  CREATE TRIGGER credentials_wipe_on_end AFTER UPDATE OF status ON grants
    WHEN NEW.status <> 'active'
    BEGIN DELETE FROM credentials WHERE grant_id = NEW.id; END;
  `,
  // 3: the scheduler asks "which grant is next due for its 5-min / 1-min warning?" after every
  // commit; without these partial indexes that scans every active grant whose warning was sent.
  // The queries use the same literal bit expressions, so the planner can match them.
  `
  CREATE INDEX grants_warn_5m ON grants(expires_at) WHERE status = 'active' AND (warned & 1) = 0;
  CREATE INDEX grants_warn_1m ON grants(expires_at) WHERE status = 'active' AND (warned & 2) = 0;
  -- /v1/check wants the latest-ending active grant of (user, resource, role): one index seek
  DROP INDEX grants_check;
  CREATE INDEX grants_check ON grants(user_id, resource_id, role, expires_at) WHERE status = 'active';
  `,
  // 4: the log is the event bus. An event that streams carry keeps its payload (the live event's
  // JSON, with the request/grant as they were when it committed), so live delivery and a
  // Last-Event-ID replay send the same bytes, read from the log by seq. It is a display
  // snapshot, not under the hash: no decision reads it.
  `
  ALTER TABLE audit ADD COLUMN live TEXT;
  `,
  // 5: the audit hash format per event (server/store/auditChain.ts). Events written before this
  // migration are format 1 (subject_id outside the hash); the server writes format 2, which
  // hashes subject_id too. Adding a column fires no trigger, so the append-only rule holds.
  `
  ALTER TABLE audit ADD COLUMN v INTEGER NOT NULL DEFAULT 1;
  `,
  // 6: sign-in through the company's OpenID provider (server/identity/). Secrets are stored as
  // SHA-256 hashes: device codes, user codes, the OAuth state and the browser binding. Device
  // codes and sign-in attempts are single-use (their status moves on by conditional updates).
  `
  CREATE TABLE idp_users (
    id TEXT PRIMARY KEY,               -- the Elevate user id (from the usernameClaim)
    issuer TEXT,
    subject TEXT,                      -- the IdP's sub: a user id stays bound to one IdP account
    name TEXT NOT NULL,
    email TEXT,
    groups TEXT NOT NULL,              -- JSON: the groups of the last sign-in
    roles TEXT NOT NULL,               -- JSON: roles mapped from them at that sign-in
    last_sign_in_at INTEGER,
    disabled_at INTEGER                -- elevate-server user disable: no sign-in, sessions ended
  );
  CREATE UNIQUE INDEX idp_users_subject ON idp_users(issuer, subject) WHERE subject IS NOT NULL;

  CREATE TABLE device_codes (
    id TEXT PRIMARY KEY,
    device_hash BLOB NOT NULL UNIQUE,
    user_code_hash BLOB NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'consumed')),
    user_id TEXT,
    denied_reason TEXT,
    interval_s INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    last_polled_at INTEGER,
    client_ip TEXT,
    client_name TEXT
  );
  CREATE INDEX device_codes_expiry ON device_codes(expires_at);

  CREATE TABLE oidc_logins (
    state_hash BLOB PRIMARY KEY,
    device_id TEXT NOT NULL,
    browser_hash BLOB NOT NULL,        -- hash of the cookie that binds the attempt to one browser
    nonce TEXT NOT NULL,
    code_verifier TEXT NOT NULL,       -- PKCE; useless without the single-use authorization code
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
  );
  CREATE INDEX oidc_logins_expiry ON oidc_logins(expires_at);
  `,
  // 7: the rows log followers read (FOLLOWED_SQL in server/store/auditChain.ts: stream events and
  // stream controls), so following the log seeks them instead of scanning every access check
  // logged since the last read. The WHERE must stay the follow query's, word for word.
  `
  CREATE INDEX audit_followed ON audit(seq) WHERE live IS NOT NULL OR action IN ('token.revoked', 'user.disabled', 'auth.device_approved');
  `,
];

export function migrate(db: Database): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) {
    throw new Error(`database schema version ${current} is newer than this server (${migrations.length}); upgrade Elevate`);
  }
  for (let v = current; v < migrations.length; v++) {
    db.transaction(() => {
      db.exec(migrations[v]);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return migrations.length;
}
