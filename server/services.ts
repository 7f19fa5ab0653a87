// Wires the server's parts around an open store: engine, tokens, live events, scheduler and
// outbox. No port, no file paths, no SQL: main.ts and tests both build on this.
import { createApp } from './app.js';
import type { Clock } from './domain/clock.js';
import { CredentialVault } from './crypto/vault.js';
import { NOTIFY_KIND, Notifier } from './notify/notifier.js';
import type { Policy } from './domain/types.js';
import type { AuditVerification, Store } from './store/types.js';
import { AuditBatcher } from './engine/auditBatcher.js';
import { Engine } from './engine/engine.js';
import { EventHub } from './engine/hub.js';
import { OutboxWorker } from './engine/outbox.js';
import { Scheduler } from './engine/scheduler.js';
import { Tokens } from './engine/tokens.js';
import { Identity } from './identity/service.js';
import type { AppDeps, Readiness } from './http/context.js';
import { Metrics } from './metrics.js';
import type { Logger } from './logger.js';
import { errorFields } from './logger.js';
import { type ProviderRegistry, defaultProviders } from './providers/index.js';

/** How soon another replica's commits are looked at for due instants and provider work (see start()). */
const REMOTE_LOOK_MS = 100;

export interface ServicesOptions {
  store: Store;
  policy: Policy;
  clock: Clock;
  logger: Logger;
  providers?: ProviderRegistry;
  /** the server key (server/crypto/serverKey.ts); without one, credentials live under a key kept in memory */
  serverKey?: Buffer;
  options?: AppDeps['options'];
  /** the address the server listens at; the public URL when the policy has no server.publicUrl */
  listenUrl?: string;
  /** process metrics (CPU, memory, event-loop lag) in /metrics; main.ts turns them on (they watch the whole process) */
  defaultMetrics?: boolean;
}

export async function createServices(o: ServicesOptions) {
  const store = o.store;
  const onError = (e: unknown, ctx: Record<string, unknown> = {}) => o.logger.log('error', 'background error', { ...ctx, ...errorFields(e) });
  // The engine works with the policy file plus the users the IdP vouched for (identity.effective).
  let filePolicy = o.policy;
  const identity: Identity = new Identity({
    store,
    clock: o.clock,
    filePolicy: () => filePolicy,
    publicUrl: () => policyRef.current.server.publicUrl ?? o.listenUrl ?? 'http://127.0.0.1:7410',
    auditLater: (e) => batcher.add(e),
    onUsersChanged: () => (policyRef.current = identity.effective(filePolicy)),
    onTokenRevoked: (t) => {
      tokens.forget();
      hub.closeToken(t);
    },
  });
  await identity.load();
  const policyRef: { current: Policy } = { current: identity.effective(o.policy) };
  const engine = new Engine(store, o.clock, policyRef);
  const tokens = new Tokens(store, o.clock, {
    differs: (userId, record) => identity.differs(userId, record),
    refresh: async () => {
      await identity.refreshUsers();
      return policyRef.current;
    },
    current: () => policyRef.current,
  });
  // the log follower: live events for the streams, and revocations for the token cache, written
  // by this process or any other (the CLI, another replica)
  const hub = new EventHub(
    () => policyRef.current,
    store,
    (e) => onError(e, { op: 'follow' }),
    (e) => {
      tokens.onControl(e);
      // a user disabled or signed in elsewhere: the IdP users this process knows have changed
      if (e.action === 'user.disabled' || e.action === 'auth.device_approved')
        identity.refreshUsers().catch((err: unknown) => onError(err, { op: 'identity.refresh' }));
    },
  );
  const batcher = new AuditBatcher(store, (e) => onError(e, { op: 'audit.batch' }));
  const scheduler = new Scheduler(engine, o.clock, (e) => onError(e, { op: 'sweep' }));
  const credentials = o.serverKey ? new CredentialVault(store, o.serverKey, o.clock) : CredentialVault.ephemeral(store, o.clock);
  const outbox = new OutboxWorker(store, engine, o.clock, o.providers ?? defaultProviders(), {
    onError,
    // kept only while the grant is active (the store drops them when it ends); never logged
    onCredentials: (grantId, creds) => credentials.put(grantId, creds),
    handlers: { [NOTIFY_KIND]: (payload, signal) => notifier.deliver(payload, signal) },
  });
  // notifications are queued in the same transaction as the change they announce (rule 3)
  const notifier = new Notifier(() => policyRef.current);
  engine.onAppend((c, events) => notifier.enqueue(c, events));

  engine.onCommit((items, info) => {
    if (items.length) hub.wake();
    scheduler.pokeSoon();
    if (info.outbox) outbox.poke();
  });

  // concurrent verifications of the same kind share the one running: each reads the whole log
  const verifying = new Map<boolean, Promise<AuditVerification>>();
  const verifyAudit = ({ state }: { state: boolean }) => {
    let p = verifying.get(state);
    if (!p) verifying.set(state, (p = store.verifyAudit({ state }).finally(() => verifying.delete(state))));
    return p;
  };

  // /metrics: gauges read at scrape time; expiry lag and revocation failures from what committed
  const metrics = new Metrics(
    { counts: (now) => store.opsCounts(now), sseClients: () => hub.size, now: () => o.clock.now() },
    { defaultMetrics: o.defaultMetrics ?? false },
  );
  engine.onCommit((items) => metrics.onCommit(items));
  let ready = false;
  const readiness = async (): Promise<Readiness> => {
    const problems: string[] = [];
    let database = false;
    let migrationsCurrent = false;
    try {
      const { version, expected } = await store.schema();
      database = true;
      migrationsCurrent = version === expected;
      if (!migrationsCurrent) problems.push(`database schema is version ${version}, this server expects ${expected}`);
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
  let unfollow: (() => void) | undefined;
  let remoteLook: NodeJS.Timeout | undefined;

  /** Policy reconcile: once, not once per replica (the others find nothing left to do). */
  const reconcile = (policy: Policy, opts: { reloaded: boolean; summary?: Record<string, unknown> }) =>
    store
      .once('reconcile', () => engine.reconcile(policy, { ...opts, onTokenRevoked: (t) => (tokens.forget(), hub.closeToken(t)) }))
      .then((done) => {
        // another replica is reconciling right now: this one still serves the new policy
        if (done === undefined) policyRef.current = policy;
      });

  return {
    ...deps,
    app,
    scheduler,
    outbox,
    /** Catch up after downtime (rule 6) and start the background work. */
    async start() {
      await reconcile(policyRef.current, { reloaded: false });
      const started = performance.now();
      const caughtUp = await engine.sweep();
      await credentials.purge();
      if (caughtUp.grants || caughtUp.requests) {
        o.logger.log('info', 'caught up after downtime', { ...caughtUp, ms: Math.round(performance.now() - started) });
      }
      await hub.start();
      // Other processes (the CLI, other replicas) write to the same database: what they log,
      // such as a token revoked or a user disabled, reaches the token cache and the open
      // streams as soon as the store hears of their commit.
      // Other replicas (PostgreSQL) also create grants and queue provider work: their commits
      // move this replica's next due instant too, and work a replica that died had claimed is
      // due here once its lease ends. The replica that committed arms its own timer (within the
      // scheduler's SOON_MS) and does its own provider work at once, so the others need only
      // know within a moment: one look per REMOTE_LOOK_MS covers every commit of that span,
      // instead of each replica querying after every commit of every other (which cost more CPU
      // than the commits themselves).
      // (On SQLite the only other writer is the CLI, which neither grants nor queues, and this
      // process's own commits poke both already.)
      const replicated = store.kind === 'postgres';
      unfollow ??= store.onCommitted(({ elsewhere }) => {
        hub.wake();
        if (replicated && elsewhere && !remoteLook) {
          remoteLook = setTimeout(() => {
            remoteLook = undefined;
            scheduler.poke();
            outbox.poke();
          }, REMOTE_LOOK_MS);
          remoteLook.unref();
        }
      });
      scheduler.start();
      outbox.start();
      ready = true;
      return caughtUp;
    },
    /** Reads the log up to its head now (tests: what another process wrote is then known here). */
    follow: () => hub.follow(),
    /** Resolves once the background work started so far (sweep, outbox, log follower) has finished (tests). */
    async idle() {
      for (let i = 0; i < 100; i++) {
        await scheduler.idle();
        await outbox.idle();
        await hub.follow();
        await new Promise((r) => setImmediate(r));
        if (!scheduler.busy && !outbox.busy) return;
      }
    },
    /** Applies a new, already validated policy (SIGHUP). */
    async reload(policy: Policy, summary: Record<string, unknown>) {
      filePolicy = policy;
      await reconcile(identity.effective(policy), { reloaded: true, summary });
      // the others' streams follow the new rights from their next event on
      hub.closeRemovedUsers();
    },
    async stop() {
      unfollow?.();
      clearTimeout(remoteLook);
      unfollow = undefined;
      scheduler.stop();
      hub.closeAll();
      await outbox.stop();
      await scheduler.idle();
      await batcher.flush();
    },
  };
}

export type Services = Awaited<ReturnType<typeof createServices>>;
