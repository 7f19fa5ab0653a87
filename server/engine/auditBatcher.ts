// High-volume audit events that change no state (access checks, failed sign-ins) are written in
// small batches, one transaction per batch, at most FLUSH_MS apart, one batch at a time. A crash
// can lose the events not yet committed (those of the last FLUSH_MS, and those that arrived while
// the batch before them was committing); state changes never go here.
// While the database cannot be written they wait in memory and are retried every second.
// 2 ms, not more: at 10,000 checks a second a 50 ms batch stalled the event loop for ~4 ms at
// each flush (p99 of /v1/check 8 ms) and held its events long enough to reach the old
// generation; 2 ms batches gave p99 ~5 ms and ~30% more throughput, and lose less in a crash.
import type { AuditInput, Store } from '../store/types.js';

export const FLUSH_MS = 2;
export const MAX_BATCH = 2000;
/** While the database cannot be written, events wait (and are retried) up to this many. */
const MAX_QUEUED = 100_000;
const RETRY_MS = 1000;

export class AuditBatcher {
  private queue: AuditInput[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: Store,
    private readonly onError: (e: unknown) => void,
  ) {}

  add(e: AuditInput): void {
    this.queue.push(e);
    if (this.queue.length >= MAX_BATCH) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), FLUSH_MS);
      this.timer.unref();
    }
  }

  /**
   * Writes what is queued; resolves once it has committed (or failed and been queued again).
   * One batch is written at a time: what arrives meanwhile waits for it, then goes as one batch.
   * It would otherwise wait anyway, in a transaction of its own, for the append lock the batch
   * holds (one appender at a time; on PostgreSQL across replicas), so what a crash can lose grows
   * by at most the time one batch takes to commit; and when writing is slow (several replicas on
   * a few cores) batches grow instead of each transaction's fixed cost being paid more often.
   */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.busy) {
      this.next ??= this.writing.then(() => {
        this.next = null;
        // after a failure the retry timer writes the batch again, a second later
        return this.retrying ? undefined : this.flush();
      });
      return this.next;
    }
    this.retrying = false;
    if (this.queue.length === 0) return this.writing;
    const batch = this.queue.splice(0, MAX_BATCH);
    this.busy = true;
    this.writing = this.store
      .transaction((tx) => tx.audit.append(batch))
      .then(
        () => {},
        (e: unknown) => this.failed(batch, e),
      )
      .finally(() => {
        this.busy = false;
        // more than one batch was queued: the rest goes now
        if (this.queue.length > 0 && !this.timer && !this.next) void this.flush();
      });
    return this.writing;
  }
  /** the batch being written (resolves once it has committed or been queued again) */
  private writing: Promise<void> = Promise.resolve();
  private busy = false;
  /** the flush that follows the one under way */
  private next: Promise<void> | null = null;
  /** the last write failed: the retry timer is set */
  private retrying = false;

  private failed(batch: AuditInput[], e: unknown): void {
    this.onError(e);
    this.retrying = true;
    // keep them for the next attempt (a database outage must not erase failed sign-ins);
    // past MAX_QUEUED the oldest go, and the loss is reported
    this.queue = batch.concat(this.queue);
    const over = this.queue.length - MAX_QUEUED;
    if (over > 0) {
      this.queue.splice(0, over);
      this.onError(new Error(`audit batch queue full: ${over} access-check/sign-in events dropped`));
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.flush(), RETRY_MS);
    this.timer.unref();
  }
}
