// One injected clock for the whole server: production uses the system clock, tests use
// FakeClock and move time instead of sleeping. Timers go through the clock too, so a test that
// advances the fake clock fires exactly the timers that became due.
export interface Clock {
  /** milliseconds since the epoch */
  now(): number;
  /** run fn after ms (relative to now()); returns a cancel function */
  setTimer(ms: number, fn: () => void): () => void;
  /** forward wall-clock jump (ms) seen since the last call, if this clock detects them */
  takeForwardJump?(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    // setTimeout overflows past 2^31-1 ms; the scheduler re-arms anyway, so cap it.
    const t = setTimeout(fn, Math.max(0, Math.min(ms, 2 ** 31 - 1)));
    t.unref();
    return () => clearTimeout(t);
  },
};

/**
 * Wall time that never runs backwards and never runs slower than the monotonic clock: a
 * backward step of the wall clock cannot lengthen access (time keeps advancing on the
 * monotonic clock), while a forward step is followed at once (grants end early, and the jump is
 * reported so it can be audited).
 */
export class GuardedClock implements Clock {
  private last: number;
  private lastMono: number;
  private jumpedMs = 0;

  constructor(
    private readonly wall: () => number = Date.now,
    private readonly mono: () => number = () => performance.now(),
    private readonly timers: Pick<Clock, 'setTimer'> = systemClock,
  ) {
    this.last = wall();
    this.lastMono = mono();
  }

  now(): number {
    const wall = this.wall();
    const mono = this.mono();
    const steady = this.last + (mono - this.lastMono);
    // more than a second ahead of the steady line: the wall clock was stepped forward
    if (wall - steady > 1000) this.jumpedMs += Math.round(wall - steady);
    this.last = Math.max(wall, steady);
    this.lastMono = mono;
    // whole milliseconds, like Date.now(): stored times are integers (floor keeps it monotonic)
    return Math.floor(this.last);
  }

  /** Total forward jump seen since the last call (ms), then reset. */
  takeForwardJump(): number {
    this.now();
    const j = this.jumpedMs;
    this.jumpedMs = 0;
    return j;
  }

  setTimer(ms: number, fn: () => void): () => void {
    return this.timers.setTimer(ms, fn);
  }
}

export class FakeClock implements Clock {
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 1;
  constructor(private current = Date.UTC(2026, 0, 5, 9, 0, 0)) {}

  now(): number {
    return this.current;
  }

  setTimer(ms: number, fn: () => void): () => void {
    const id = this.nextId++;
    this.timers.push({ at: this.current + Math.max(0, ms), fn, id });
    return () => {
      this.timers = this.timers.filter((t) => t.id !== id);
    };
  }

  /** Moves time forward, firing due timers in order (each sees now() = its due time). */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.current = Math.max(this.current, due.at);
      due.fn();
    }
    this.current = target;
  }

  /** Jumps the wall clock without firing timers (simulates a clock step). */
  set(ms: number): void {
    this.current = ms;
  }

  get pendingTimers(): number {
    return this.timers.length;
  }
}

export const iso = (ms: number): string => new Date(ms).toISOString();
