// Prometheus metrics (prom-client, its own registry per server): gauges read from the database
// when scraped, a histogram of how late the sweep ends grants, failures counted from the
// committed audit events, and HTTP latency by route pattern (never by raw path: ids would make
// a series per grant).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Committed } from './engine/engine.js';
import type { OpsCounts } from './store/types.js';

/** What the gauges read at scrape time. */
export interface MetricsSource {
  counts(now: number): Promise<OpsCounts>;
  sseClients(): number;
  now(): number;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly http: Histogram<'method' | 'route' | 'status'>;
  private readonly expiryLag: Histogram;
  private readonly revokeFailures: Counter;

  constructor(source: MetricsSource, opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'elevate_' });
    // one read of the counts per scrape, shared by the gauges below
    let snapshot: { at: number; value: Promise<OpsCounts> } | undefined;
    const counts = () => {
      const now = source.now();
      if (!snapshot || snapshot.at !== now) snapshot = { at: now, value: source.counts(now) };
      return snapshot.value;
    };
    const gauge = (name: string, help: string, read: () => number | Promise<number>) =>
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          this.set(await read());
        },
      });
    gauge('elevate_active_grants', 'Grants active now', async () => (await counts()).activeGrants);
    gauge('elevate_pending_requests', 'Requests waiting for a decision', async () => (await counts()).pendingRequests);
    gauge('elevate_outbox_depth', 'Outbox rows (provider work, notifications) not yet done', async () => (await counts()).outboxDepth);
    gauge('elevate_outbox_oldest_age_seconds', 'Age of the oldest outbox row not yet done (0 when empty)', async () => {
      const c = await counts();
      return c.outboxOldestCreatedAt === null ? 0 : Math.max(0, (source.now() - c.outboxOldestCreatedAt) / 1000);
    });
    gauge(
      'elevate_grants_revoke_pending',
      'Ended grants whose revocation on the target system has not succeeded yet',
      async () => (await counts()).revokePending,
    );
    gauge('elevate_sse_clients', 'Open event streams', () => source.sseClients());
    this.revokeFailures = new Counter({
      name: 'elevate_revocation_failures_total',
      help: 'Failed revocation attempts on target systems (each is retried)',
      registers,
    });
    this.expiryLag = new Histogram({
      name: 'elevate_expiry_lag_seconds',
      help: 'How long after its expiresAt the sweep ended a grant (rule 1 allows 1 s; more after downtime)',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 30, 300, 3600],
      registers,
    });
    this.http = new Histogram({
      name: 'elevate_http_request_duration_seconds',
      help: 'HTTP request latency by route pattern (event streams: time to open)',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
  }

  /** Engine commit listener: lags of expiries and failed revocations, from what committed. */
  onCommit(items: readonly Committed[]): void {
    for (const { event } of items) {
      if (event.action === 'grant.expired' && typeof event.details.lateMs === 'number') this.expiryLag.observe(Math.max(0, event.details.lateMs) / 1000);
      else if (event.action === 'grant.revoke_failed') this.revokeFailures.inc();
    }
  }

  observeHttp(method: string, route: string, status: number, seconds: number): void {
    this.http.observe({ method, route, status: String(status) }, seconds);
  }

  async render(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}
