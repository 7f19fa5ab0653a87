// Wires the server's parts around an open database: store, engine, tokens, live events,
// scheduler and outbox. No port, no file paths: main.ts and tests both build on this.
import type { Database } from 'better-sqlite3';
import { createApp } from './app.js';
import type { Clock } from './domain/clock.js';
import { CredentialVault } from './crypto/vault.js';
import { NOTIFY_KIND, Notifier } from './notify/notifier.js';
import type { Policy } from './domain/types.js';
import { Store } from './db/store.js';
import { type AuditVerification, verifyAudit as verifyOnThisThread } from './db/stateCheck.js';
import { AuditBatcher } from './engine/auditBatcher.js';
import { Engine } from './engine/engine.js';
import { EventHub } from './engine/hub.js';
import { OutboxWorker } from './engine/outbox.js';
import { Scheduler } from './engine/scheduler.js';
import { Tokens } from './engine/tokens.js';
import { IdentityStore } from './db/identity.js';
import { Identity } from './identity/service.js';
import type { AppDeps, Readiness } from './http/context.js';
import { migrations } from './db/migrations.js';
import { Metrics } from './metrics.js';
import type { Logger } from './logger.js';
import { errorFields } from './logger.js';
import { type ProviderRegistry, defaultProviders } from './providers/index.js';

export interface ServicesOptions {
  db: Database;
  policy: Policy;
  clock: Clock;
  logger: Logger;
  providers?: ProviderRegistry;
  /** the server key (server/crypto/serverKey.ts); without one, credentials live under a key kept in memory */
  serverKey?: Buffer;
  options?: AppDeps['options'];
  /** one commit per event-loop turn for all writes in it (Store.tx); default on */
  groupCommit?: boolean;
  /** the address the server listens at; the public URL when the policy has no server.publicUrl */
  listenUrl?: string;
  /** recomputes the audit chain for GET /v1/audit/verify; the server's runs in a worker thread, the default on this thread */
  verifyAudit?: (opts: { state: boolean }) => Promise<AuditVerification>;
  /** process metrics (CPU, memory, event-loop lag) in /metrics; main.ts turns them on (they watch the whole process) */
  defaultMetrics?: boolean;
}

/** How often the event streams look for commits by other processes (the CLI). */
const OTHER_WRITERS_POLL_MS = 500;

export function createServices(o: ServicesOptions) {
  let othersTimer: NodeJS.Timeout | undefined;
  const store = new Store(o.db, o.groupCommit ?? true);
  // The engine works with the policy file plus the users the IdP vouched for (identity.effective).
  let filePolicy = o.policy;
  const identity: Identity = new Identity({
    store,
    ids: new IdentityStore(o.db),
    clock: o.clock,
    filePolicy: () => filePolicy,
    publicUrl: () => policyRef.current.server.publicUrl ?? o.listenUrl ?? 'http://127.0.0.1:7410',
    auditLater: (e) => batcher.add(e),
    onUsersChanged: () => (policyRef.current = identity.effective(filePolicy)),
    onTokenRevoked: (t) => hub.closeToken(t),
  });
  const policyRef: { current: Policy } = { current: identity.effective(o.policy) };
  const engine = new Engine(store, o.clock, policyRef);
  const tokens = new Tokens(store, o.clock);
  const hub = new EventHub(() => policyRef.current, store.audit);
  const onError = (e: unknown, ctx: Record<string, unknown> = {}) => o.logger.log('error', 'background error', { ...ctx, ...errorFields(e) });
  const batcher = new AuditBatcher(store, (e) => onError(e, { op: 'audit.batch' }));
  const scheduler = new Scheduler(engine, o.clock, (e) => onError(e, { op: 'sweep' }));
  const credentials = o.serverKey ? new CredentialVault(o.db, o.serverKey, o.clock) : CredentialVault.ephemeral(o.db, o.clock);
  const outbox = new OutboxWorker(store, engine, o.clock, o.providers ?? defaultProviders(), {
    onError,
    // kept only while the grant is active (the table's triggers); never logged
    onCredentials: (grantId, creds) => void credentials.put(grantId, creds),
    handlers: { [NOTIFY_KIND]: (payload, signal) => notifier.deliver(payload, signal) },
  });
  // notifications are queued in the same transaction as the change they announce (rule 3)
  const notifier = new Notifier(store, () => policyRef.current);
  engine.onAppend((events, now) => notifier.enqueue(events, now));

  engine.onCommit((items) => {
    hub.follow(items[items.length - 1].event.seq);
    scheduler.poke();
    if (store.takeOutboxWritten()) outbox.poke();
  });

  // concurrent verifications of the same kind share the one running: each reads the whole log
  const verify = o.verifyAudit ?? (async (v: { state: boolean }) => verifyOnThisThread(o.db, v));
  const verifying = new Map<boolean, Promise<AuditVerification>>();
  const verifyAudit = ({ state }: { state: boolean }) => {
    let p = verifying.get(state);
    if (!p) verifying.set(state, (p = verify({ state }).finally(() => verifying.delete(state))));
    return p;
  };

  // /metrics: gauges read at scrape time; expiry lag and revocation failures from what committed
  const metrics = new Metrics({ counts: (now) => store.opsCounts(now), sseClients: () => hub.size, now: () => o.clock.now() }, { defaultMetrics: o.defaultMetrics ?? false });
  engine.onCommit((items) => metrics.onCommit(items));
  let ready = false;
  const readiness = (): Readiness => {
    const problems: string[] = [];
    let database = false;
    let migrationsCurrent = false;
    try {
      const version = store.schemaVersion();
      database = true;
      migrationsCurrent = version === migrations.length;
      if (!migrationsCurrent) problems.push(`database schema is version ${version}, this server expects ${migrations.length}`);
    } catch (e) {
      problems.push(`database unreachable: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!ready) problems.push('startup catch-up (expiring what ended while the server was down) has not finished');
    return { ready: database && migrationsCurrent && ready, checks: { database, migrations: migrationsCurrent, caughtUp: ready }, problems };
  };

  const deps: AppDeps = {
    store,
    engine,
    tokens,
    hub,
    batcher,
    identity,
    clock: o.clock,
    policy: () => policyRef.current,
    logger: o.logger,
    credentials,
    verifyAudit,
    metrics,
    readiness,
    options: o.options,
  };
  const app = createApp(deps);

  return {
    ...deps,
    app,
    scheduler,
    outbox,
    /** Catch up after downtime (rule 6) and start the background work. */
    start() {
      engine.reconcile(policyRef.current, { reloaded: false, onTokenRevoked: (t) => hub.closeToken(t) });
      const started = performance.now();
      const caughtUp = engine.sweep();
      store.flush(); // the catch-up is durable before the first request is served
      credentials.purge();
      if (caughtUp.grants || caughtUp.requests) {
        o.logger.log('info', 'caught up after downtime', { ...caughtUp, ms: Math.round(performance.now() - started) });
      }
      scheduler.start();
      outbox.start();
      // Another process (the CLI) writes to the same database: what it logs, such as a token it
      // revokes or a user it disables, reaches the open streams within a poll. SQLite's
      // data_version moves with every commit by another connection, so a poll costs one pragma.
      let seen = store.dataVersion();
      othersTimer ??= setInterval(() => {
        if (hub.size === 0) return;
        try {
          const v = store.dataVersion();
          if (v !== seen) {
            seen = v;
            hub.follow();
          }
        } catch (e) {
          onError(e, { op: 'follow' });
        }
      }, OTHER_WRITERS_POLL_MS);
      othersTimer.unref();
      ready = true;
      return caughtUp;
    },
    /** Applies a new, already validated policy (SIGHUP). */
    reload(policy: Policy, summary: Record<string, unknown>) {
      filePolicy = policy;
      engine.reconcile(identity.effective(policy), { reloaded: true, summary, onTokenRevoked: (t) => hub.closeToken(t) });
      // the others' streams follow the new rights from their next event on
      hub.closeRemovedUsers();
    },
    async stop() {
      clearInterval(othersTimer);
      othersTimer = undefined;
      scheduler.stop();
      hub.closeAll();
      await outbox.stop();
      batcher.flush();
      store.flush();
    },
  };
}

export type Services = ReturnType<typeof createServices>;
