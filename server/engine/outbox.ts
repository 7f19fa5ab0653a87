// Executes outbox rows after commit: provisioning, extension and deprovisioning on target
// systems. Rows survive restarts; a failed revocation is retried with backoff until it succeeds.
import type { Clock } from '../domain/clock.js';
import type { ProviderConfig } from '../domain/types.js';
import type { Store } from '../store/types.js';
import type { ProviderRegistry } from '../providers/index.js';
import type { Credentials, ProvisionedGrant } from '../providers/types.js';
import type { Engine } from './engine.js';

const BATCH = 20;
/** How long claimed work is ours beyond the call's timeout: past it (a replica that died mid-call) another takes it up. */
const LEASE_MS = 30_000;
/**
 * Looks for due work at least this often even when this process queued none: work another
 * replica queued and then died holding becomes due here when its lease runs out.
 */
const RECHECK_MS = 60_000;
const TIMEOUT_MS = 30_000;
const MAX_BACKOFF_MS = 5 * 60_000;

export interface OutboxHooks {
  /** credentials returned by a provider, to be stored for the grant's owner */
  onCredentials?: (grantId: string, creds: Record<string, string>) => Promise<unknown>;
  onError: (e: unknown, context: Record<string, unknown>) => void;
  /** rows of other kinds (e.g. "notify"), retried with backoff up to MAX_OTHER_ATTEMPTS, then dropped */
  handlers?: Record<string, (payload: unknown, signal: AbortSignal) => Promise<void>>;
}

export class OutboxWorker {
  private cancel: (() => void) | null = null;
  private armedFor: number | null = null;
  private draining: Promise<void> | null = null;
  private arming: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly engine: Engine,
    private readonly clock: Clock,
    private readonly providers: ProviderRegistry,
    private readonly hooks: OutboxHooks,
    private readonly timeoutMs = TIMEOUT_MS,
  ) {}

  start(): void {
    this.stopped = false;
    this.poke();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancel?.();
    await this.draining;
  }

  /** New rows may be due: run now if idle, or once more after the current pass. */
  poke(): void {
    if (this.stopped) return;
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = this.drain().finally(() => {
      this.draining = null;
      if (this.again) {
        this.again = false;
        this.poke();
      } else {
        this.arming = this.arm().finally(() => (this.arming = null));
      }
    });
  }

  /** Resolves when everything due now has been attempted (tests). */
  async idle(): Promise<void> {
    while (this.draining || this.arming) await (this.draining ?? this.arming);
  }

  /** A pass or the look at the next due row is under way. */
  get busy(): boolean {
    return this.draining !== null || this.arming !== null;
  }

  private async arm(): Promise<void> {
    if (this.stopped) return;
    let next: number | null = null;
    try {
      next = await this.store.read((tx) => tx.outbox.next());
    } catch (e) {
      this.hooks.onError(e, { op: 'outbox.next' });
    }
    if (this.stopped || this.draining) return;
    next = Math.min(next ?? Infinity, this.clock.now() + RECHECK_MS);
    if (next === this.armedFor) return;
    this.cancel?.();
    this.armedFor = next;
    this.cancel = this.clock.setTimer(Math.max(0, next - this.clock.now()), () => {
      this.armedFor = null;
      this.poke();
    });
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      let rows;
      try {
        rows = await this.store.transaction((tx) => tx.outbox.claim(this.clock.now(), BATCH, LEASE_MS + this.timeoutMs));
      } catch (e) {
        this.hooks.onError(e, { op: 'outbox.claim' });
        return;
      }
      if (rows.length === 0) return;
      await Promise.all(rows.map((r) => this.execute(r.id, r.kind, r.payload as { grantId: string; provider: ProviderConfig }, r.attempts)));
      if (rows.length < BATCH) return;
    }
  }

  private async execute(id: number, kind: string, payload: { grantId: string; provider: ProviderConfig }, attempts: number): Promise<void> {
    const handler = this.hooks.handlers?.[kind];
    if (handler) return this.executeOther(id, kind, handler, payload, attempts);
    const done = () => this.store.transaction((tx) => tx.outbox.done(id, this.clock.now()));
    const retry = (at: number, error: string) => this.store.transaction((tx) => tx.outbox.retry(id, at, error));
    try {
      const g = await this.store.read((tx) => tx.grants.get(payload.grantId));
      const provider = this.providers[payload.provider.type];
      const grant: ProvisionedGrant | undefined = g && {
        id: g.id,
        userId: g.userId,
        resourceId: g.resourceId,
        role: g.role,
        startsAt: g.startsAt,
        expiresAt: g.expiresAt,
      };
      if (!grant) throw new Error(`grant ${payload.grantId} not found`);
      if (!provider) throw new Error(`no provider of type ${payload.provider.type} is available`);
      const signal = AbortSignal.timeout(this.timeoutMs);
      const run = <T>(p: Promise<T>) => withTimeout(p, signal, this.timeoutMs);
      if (kind === 'provision') {
        // the grant may have ended before we got here: then there is nothing to provision
        if (g!.status !== 'active') return await done();
        const creds = await run(provider.grant(grant, payload.provider, signal));
        if (creds) await this.hooks.onCredentials?.(grant.id, creds as Credentials);
        // tells the owner the access is ready (the editor says "getting ready" until then)
        await this.engine.provisioned(id, grant.id, payload.provider, !!creds);
      } else if (kind === 'extend') {
        if (g!.status === 'active') await run(provider.extend(grant, payload.provider, signal));
        await done();
      } else {
        await run(provider.revoke(grant, payload.provider, signal));
        await this.engine.deprovisioned(id, grant.id, payload.provider, attempts);
      }
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.hooks.onError(e, { op: `outbox.${kind}`, grantId: payload.grantId, attempts });
      try {
        if (kind === 'provision') await this.engine.provisionFailed(id, payload.grantId, payload.provider, message);
        else if (kind === 'deprovision') {
          await this.engine.revokeFailed(id, payload.grantId, payload.provider, message, attempts, this.clock.now() + backoff(attempts));
        } else if (attempts >= 5) await done();
        else await retry(this.clock.now() + backoff(attempts), message);
      } catch (inner) {
        // the database itself failed: the row stays due and is retried on the next pass
        this.hooks.onError(inner, { op: 'outbox.record', grantId: payload.grantId });
      }
    }
  }

  private async executeOther(
    id: number,
    kind: string,
    handler: (payload: unknown, signal: AbortSignal) => Promise<void>,
    payload: unknown,
    attempts: number,
  ): Promise<void> {
    try {
      const signal = AbortSignal.timeout(this.timeoutMs);
      await withTimeout(handler(payload, signal), signal, this.timeoutMs);
      await this.store.transaction((tx) => tx.outbox.done(id, this.clock.now()));
    } catch (e) {
      this.hooks.onError(e, { op: `outbox.${kind}`, attempts });
      try {
        const now = this.clock.now();
        const error = e instanceof Error ? e.message : String(e);
        if (attempts + 1 >= MAX_OTHER_ATTEMPTS) await this.store.transaction((tx) => tx.outbox.done(id, now));
        else await this.store.transaction((tx) => tx.outbox.retry(id, now + backoff(attempts), error));
      } catch (inner) {
        this.hooks.onError(inner, { op: 'outbox.record' });
      }
    }
  }
}

const MAX_OTHER_ATTEMPTS = 8;

/** 1 s, 2 s, 4 s … capped at 5 minutes, with ±20% jitter so retries do not stampede. */
export function backoff(attempts: number): number {
  const base = Math.min(1000 * 2 ** attempts, MAX_BACKOFF_MS);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

function withTimeout<T>(p: Promise<T>, signal: AbortSignal, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error(`provider call timed out after ${ms} ms`));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
