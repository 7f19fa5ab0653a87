// Executes outbox rows after commit: provisioning, extension and deprovisioning on target
// systems. Rows survive restarts; a failed revocation is retried with backoff until it succeeds.
import type { Clock } from '../domain/clock.js';
import type { ProviderConfig } from '../domain/types.js';
import type { Store } from '../db/store.js';
import type { ProviderRegistry } from '../providers/index.js';
import type { Credentials, ProvisionedGrant } from '../providers/types.js';
import type { Engine } from './engine.js';

const BATCH = 20;
const TIMEOUT_MS = 30_000;
const MAX_BACKOFF_MS = 5 * 60_000;

export interface OutboxHooks {
  /** credentials returned by a provider, to be stored for the grant's owner */
  onCredentials?: (grantId: string, creds: Record<string, string>) => void;
  onError: (e: unknown, context: Record<string, unknown>) => void;
  /** rows of other kinds (e.g. "notify"), retried with backoff up to MAX_OTHER_ATTEMPTS, then dropped */
  handlers?: Record<string, (payload: unknown, signal: AbortSignal) => Promise<void>>;
}

export class OutboxWorker {
  private cancel: (() => void) | null = null;
  private armedFor: number | null = null;
  private busy: Promise<void> | null = null;
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
    await this.busy;
  }

  /** New rows may be due: run now if idle, or once more after the current pass. */
  poke(): void {
    if (this.stopped) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = this.drain().finally(() => {
      this.busy = null;
      if (this.again) {
        this.again = false;
        this.poke();
      } else this.arm();
    });
  }

  /** Resolves when everything due now has been attempted (tests). */
  async idle(): Promise<void> {
    while (this.busy) await this.busy;
  }

  private arm(): void {
    if (this.stopped) return;
    let next: number | null = null;
    try {
      next = this.store.nextOutbox();
    } catch (e) {
      this.hooks.onError(e, { op: 'outbox.next' });
    }
    if (next === null || next === this.armedFor) return;
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
      const rows = this.store.dueOutbox(this.clock.now(), BATCH);
      if (rows.length === 0) return;
      await Promise.all(rows.map((r) => this.execute(r.id, r.kind, JSON.parse(r.payload) as { grantId: string; provider: ProviderConfig }, r.attempts)));
      if (rows.length < BATCH) return;
    }
  }

  private async execute(id: number, kind: string, payload: { grantId: string; provider: ProviderConfig }, attempts: number): Promise<void> {
    const handler = this.hooks.handlers?.[kind];
    if (handler) return this.executeOther(id, kind, handler, payload, attempts);
    const g = this.store.grant(payload.grantId);
    const provider = this.providers[payload.provider.type];
    const grant: ProvisionedGrant | undefined = g && {
      id: g.id,
      userId: g.user_id,
      resourceId: g.resource_id,
      role: g.role,
      startsAt: g.starts_at,
      expiresAt: g.expires_at,
    };
    try {
      if (!grant) throw new Error(`grant ${payload.grantId} not found`);
      if (!provider) throw new Error(`no provider of type ${payload.provider.type} is available`);
      const signal = AbortSignal.timeout(this.timeoutMs);
      const run = <T>(p: Promise<T>) => withTimeout(p, signal, this.timeoutMs);
      if (kind === 'provision') {
        // the grant may have ended before we got here: then there is nothing to provision
        if (g!.status !== 'active') return this.store.outboxDone(id, this.clock.now());
        const creds = await run(provider.grant(grant, payload.provider, signal));
        if (creds) this.hooks.onCredentials?.(grant.id, creds as Credentials);
        // tells the owner the access is ready (the editor says "getting ready" until then)
        this.engine.provisioned(id, grant.id, payload.provider, !!creds);
      } else if (kind === 'extend') {
        if (g!.status === 'active') await run(provider.extend(grant, payload.provider, signal));
        this.store.outboxDone(id, this.clock.now());
      } else {
        await run(provider.revoke(grant, payload.provider, signal));
        this.engine.deprovisioned(id, grant.id, payload.provider, attempts);
      }
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.hooks.onError(e, { op: `outbox.${kind}`, grantId: payload.grantId, attempts });
      try {
        if (kind === 'provision') this.engine.provisionFailed(id, payload.grantId, payload.provider, message);
        else if (kind === 'deprovision') {
          this.engine.revokeFailed(id, payload.grantId, payload.provider, message, attempts, this.clock.now() + backoff(attempts));
        } else if (attempts >= 5) this.store.outboxDone(id, this.clock.now());
        else this.store.outboxRetry(id, this.clock.now() + backoff(attempts), message);
      } catch (inner) {
        // the database itself failed: the row stays due and is retried on the next pass
        this.hooks.onError(inner, { op: 'outbox.record', grantId: payload.grantId });
      }
    }
  }

  private async executeOther(id: number, kind: string, handler: (payload: unknown, signal: AbortSignal) => Promise<void>, payload: unknown, attempts: number): Promise<void> {
    try {
      const signal = AbortSignal.timeout(this.timeoutMs);
      await withTimeout(handler(payload, signal), signal, this.timeoutMs);
      this.store.outboxDone(id, this.clock.now());
    } catch (e) {
      this.hooks.onError(e, { op: `outbox.${kind}`, attempts });
      try {
        if (attempts + 1 >= MAX_OTHER_ATTEMPTS) this.store.outboxDone(id, this.clock.now());
        else this.store.outboxRetry(id, this.clock.now() + backoff(attempts), e instanceof Error ? e.message : String(e));
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
