import type { HttpBindings } from '@hono/node-server';
import type { Clock } from '../domain/clock.js';
import type { CredentialVault } from '../crypto/vault.js';
import type { Policy } from '../domain/types.js';
import type { AuditVerification, Store } from '../store/types.js';
import type { AuditBatcher } from '../engine/auditBatcher.js';
import type { Actor, Engine } from '../engine/engine.js';
import type { EventHub } from '../engine/hub.js';
import type { Tokens } from '../engine/tokens.js';
import type { Identity } from '../identity/service.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';

export interface Readiness {
  ready: boolean;
  checks: { database: boolean; migrations: boolean; caughtUp: boolean };
  problems: string[];
}

/** Everything the HTTP layer needs, injected by main.ts (or a test). */
export interface AppDeps {
  store: Store;
  engine: Engine;
  tokens: Tokens;
  hub: EventHub;
  batcher: AuditBatcher;
  clock: Clock;
  policy: () => Policy;
  logger: Logger;
  /** credentials issued by providers, sealed at rest; absent: none are ever handed out */
  credentials?: CredentialVault;
  /** sign-in through the company's OpenID provider (identity: in the policy) */
  identity: Identity;
  /** recomputes the whole audit chain, off the request path where the server can */
  /** the chain, and with `state` the rows against it (Store.verifyAudit) */
  verifyAudit(opts: { state: boolean }): Promise<AuditVerification>;
  /** Prometheus metrics (GET /metrics and HTTP latency); absent: no /metrics */
  metrics?: Metrics;
  /** whether the server is ready to serve (GET /readyz): database, schema, startup catch-up */
  readiness?: () => Promise<Readiness>;
  options?: {
    /** failed sign-ins per client per minute before 429 */
    authFailuresPerMinute?: number;
    /** device codes (POST /v1/auth/device) per client per minute before 429 */
    deviceCodesPerMinute?: number;
    /** wrong user codes and failed callbacks on the sign-in pages per client per minute before 429 */
    signInFailuresPerMinute?: number;
    /** SSE heartbeat interval */
    heartbeatMs?: number;
    /** the address the server listens on (--host): a host name clients may use besides loopback and server.publicUrl */
    listenHost?: string;
  };
}

/** Bindings are present when served by @hono/node-server, absent under app.request() in tests. */
export type Env = { Variables: { actor: Actor; requestId: string }; Bindings: Partial<HttpBindings> };
