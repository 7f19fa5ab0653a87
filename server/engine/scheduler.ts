// Wakes exactly when the next grant ends, request lapses or expiry warning is due (not a fixed
// poll), runs the sweep, and re-arms. Any committed change may move the next due instant, so
// the engine pokes it after every commit.
import type { Clock } from '../domain/clock.js';
import type { Engine } from './engine.js';

/**
 * Re-check at least this often: timers run on the monotonic clock, so after a forward step of
 * the wall clock this bounds how late the sweep notices grants that are now due (rule 1: within
 * a second). Four indexed MIN() lookups a second cost nothing.
 */
const MAX_SLEEP_MS = 1000;

export class Scheduler {
  private cancel: (() => void) | null = null;
  private armedFor: number | null = null;
  private running = false;
  private stopped = false;

  constructor(
    private readonly engine: Engine,
    private readonly clock: Clock,
    private readonly onError: (e: unknown) => void,
  ) {}

  start(): void {
    this.stopped = false;
    this.run();
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
    this.cancel = null;
  }

  /** Something changed: re-arm if the next due instant moved earlier. */
  poke(): void {
    if (this.stopped || this.running) return;
    const next = this.engine.nextDue();
    if (next !== null && (this.armedFor === null || next < this.armedFor)) this.arm(next);
  }

  private arm(at: number): void {
    this.cancel?.();
    const now = this.clock.now();
    this.armedFor = at;
    this.cancel = this.clock.setTimer(Math.min(Math.max(0, at - now), MAX_SLEEP_MS), () => this.run());
  }

  private run(): void {
    if (this.stopped) return;
    this.cancel = null;
    this.armedFor = null;
    this.running = true;
    let failed = false;
    try {
      this.engine.sweep();
    } catch (e) {
      failed = true;
      this.onError(e);
    } finally {
      this.running = false;
    }
    if (this.stopped) return;
    const now = this.clock.now();
    let next: number | null = null;
    try {
      next = this.engine.nextDue();
    } catch (e) {
      failed = true;
      this.onError(e);
    }
    // after a failure (e.g. the database is unavailable) retry in a second, not in a tight loop
    this.arm(failed ? now + 1000 : (next ?? now + MAX_SLEEP_MS));
  }
}
