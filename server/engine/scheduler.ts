// Wakes exactly when the next grant ends, request lapses or expiry warning is due (not a fixed
// poll), runs the sweep, and re-arms; with nothing due it sleeps with no timer. Any committed
// change may move the next due instant, so the engine pokes it after every commit (and another
// replica's commits poke it too, services.ts).
import type { Clock } from '../domain/clock.js';
import type { Engine } from './engine.js';

/**
 * Sleep at most this long at a time while something is due: timers run on the monotonic clock,
 * so after a forward step of the wall clock this bounds how late the sweep notices grants that
 * are now due (rule 1: within a second). Such a wake-up only compares the wall clock with the
 * instant it waits for; it reads nothing. With nothing due there is no timer at all: a commit
 * that schedules something pokes the scheduler.
 */
const MAX_SLEEP_MS = 1000;

/**
 * This process's commits are looked at together, at most this often (pokeSoon). A commit can
 * bring a due instant only seconds away at the earliest (a grant's end, a pending request's
 * deadline; an extension's reset expiry warning may be due at once), and under load one look
 * per commit cost a query each time, ~4 % of an auto-approved request's CPU on SQLite and a
 * round trip on PostgreSQL.
 */
const SOON_MS = 20;

export class Scheduler {
  private cancel: (() => void) | null = null;
  private armedFor: number | null = null;
  private stopped = true;
  /** the sweep running now */
  private sweeping: Promise<void> | null = null;
  /** a look at the next due instant after a poke */
  private peeking: Promise<void> | null = null;
  private pokedMeanwhile = false;
  /** a poke waiting for SOON_MS (pokeSoon) */
  private soon: NodeJS.Timeout | null = null;

  constructor(
    private readonly engine: Pick<Engine, 'nextDue' | 'sweep'>,
    private readonly clock: Clock,
    private readonly onError: (e: unknown) => void,
  ) {}

  start(): void {
    this.stopped = false;
    this.run();
  }

  stop(): void {
    this.stopped = true;
    if (this.soon) clearTimeout(this.soon);
    this.soon = null;
    this.cancel?.();
    this.cancel = null;
    this.armedFor = null;
  }

  /** A sweep or a look at the next instant is under way or waiting. */
  get busy(): boolean {
    return this.sweeping !== null || this.peeking !== null || this.soon !== null;
  }

  /** Resolves once no sweep and no look at the next instant is under way or waiting (tests, shutdown). */
  async idle(): Promise<void> {
    if (this.soon) {
      clearTimeout(this.soon);
      this.soon = null;
      this.poke();
    }
    while (this.sweeping || this.peeking) await (this.sweeping ?? this.peeking);
  }

  /** This process committed something: look at the next due instant within SOON_MS, once for every commit meanwhile. */
  pokeSoon(): void {
    if (this.stopped || this.soon) return;
    this.soon = setTimeout(() => {
      this.soon = null;
      this.poke();
    }, SOON_MS);
    this.soon.unref();
  }

  /** Something changed: re-arm if the next due instant moved earlier. */
  poke(): void {
    if (this.stopped) return;
    if (this.sweeping || this.peeking) {
      // a change during a sweep or a look may have moved the next instant: look again after it
      this.pokedMeanwhile = true;
      return;
    }
    this.pokedMeanwhile = false;
    this.peeking = this.engine
      .nextDue()
      .then((next) => {
        if (this.stopped || this.sweeping) return;
        if (next !== null && (this.armedFor === null || next < this.armedFor)) this.arm(next);
      })
      .catch((e: unknown) => this.onError(e))
      .finally(() => {
        this.peeking = null;
        if (this.pokedMeanwhile) this.poke();
      });
  }

  private arm(at: number): void {
    this.cancel?.();
    this.armedFor = at;
    this.sleep(at);
  }

  /** Runs the sweep at `at` by the wall clock, looking at the clock at least every MAX_SLEEP_MS. */
  private sleep(at: number): void {
    const left = Math.max(0, at - this.clock.now());
    this.cancel = this.clock.setTimer(Math.min(left, MAX_SLEEP_MS), () => (this.clock.now() >= at ? this.run() : this.sleep(at)));
  }

  private run(): void {
    if (this.stopped || this.sweeping) return;
    this.cancel = null;
    this.armedFor = null;
    this.pokedMeanwhile = false;
    this.sweeping = this.pass().finally(() => {
      this.sweeping = null;
      if (this.pokedMeanwhile) this.poke();
    });
  }

  private async pass(): Promise<void> {
    let failed = false;
    try {
      // The instant it woke for may have moved meanwhile (a grant revoked, another replica's
      // sweep): the sweep's claiming transactions run only when something is due now. A clock
      // step that made nothing due ended nothing: forget it.
      const due = await this.engine.nextDue();
      if (due !== null && due <= this.clock.now()) await this.engine.sweep();
      else this.clock.takeForwardJump?.();
    } catch (e) {
      failed = true;
      this.onError(e);
    }
    if (this.stopped) return;
    let next: number | null = null;
    try {
      next = await this.engine.nextDue();
    } catch (e) {
      failed = true;
      this.onError(e);
    }
    if (this.stopped) return;
    // after a failure (e.g. the database is unavailable) retry in a second, not in a tight loop
    if (failed) this.arm(this.clock.now() + 1000);
    else if (next !== null) this.arm(next);
  }
}
