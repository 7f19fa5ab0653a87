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

  /**
   * Fires the earliest timer due at or before `upTo` (now() becomes its due time); false when
   * there is none. For code whose timers start asynchronous work: the caller lets that work
   * finish before the next timer, as if time passed in real life.
   */
  fireNext(upTo: number): boolean {
    const due = this.timers.filter((t) => t.at <= upTo).sort((a, b) => a.at - b.at || a.id - b.id)[0];
    if (!due) return false;
    this.timers = this.timers.filter((t) => t !== due);
    this.current = Math.max(this.current, due.at);
    due.fn();
    return true;
  }

  /** Jumps the wall clock without firing timers (simulates a clock step). */
  set(ms: number): void {
    this.current = ms;
  }

  get pendingTimers(): number {
    return this.timers.length;
  }
}

const DAY_MS = 86_400_000;
/** 10000-01-01T00:00:00.000Z: below it toISOString has a four-digit year. */
const YEAR_10000_MS = 253_402_300_800_000;

const pad2 = (n: number) => (n < 10 ? `0${n}` : `${n}`);
const pad3 = (n: number) => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`);

/**
 * `new Date(ms).toISOString()`, about 6× cheaper for a time on one of the last two UTC days
 * seen (verify's run of rows; an event's own times, which often straddle midnight: a grant's
 * maxExpiresAt is hours after its start): the "YYYY-MM-DDT" part of those days is kept and only
 * "hh:mm:ss.sssZ" is formatted. Exact because JavaScript time has no leap seconds (every UTC
 * day is 86,400,000 ms); anything but an integer in [1970, 10000) goes to toISOString itself,
 * which also keeps its RangeError for values that are not times.
 */
export class IsoTimes {
  private dayStart = NaN;
  private datePart = '';
  /** the day seen before the last one */
  private otherDayStart = NaN;
  private otherDatePart = '';

  /** the last time formatted: an event's times repeat (its instant for every event of a change, a grant's end as its expiry) */
  private lastMs = NaN;
  private lastIso = '';

  format(ms: number): string {
    if (ms === this.lastMs) return this.lastIso;
    const iso = this.formatNew(ms);
    this.lastMs = ms;
    this.lastIso = iso;
    return iso;
  }

  private formatNew(ms: number): string {
    let t = ms - this.dayStart;
    if (!(Number.isInteger(ms) && t >= 0 && t < DAY_MS)) {
      const u = ms - this.otherDayStart;
      if (!(Number.isInteger(ms) && u >= 0 && u < DAY_MS)) return this.newDay(ms);
      // the other day: it becomes the last one seen
      [this.dayStart, this.otherDayStart] = [this.otherDayStart, this.dayStart];
      [this.datePart, this.otherDatePart] = [this.otherDatePart, this.datePart];
      t = u;
    }
    const milli = t % 1000;
    const s = (t - milli) / 1000;
    // joined, not concatenated: one flat string instead of V8's lazy tree of the nine pieces,
    // which events keep (their details) until they commit and every GC meanwhile copies
    return [this.datePart, pad2(Math.floor(s / 3600)), ':', pad2(Math.floor(s / 60) % 60), ':', pad2(s % 60), '.', pad3(milli), 'Z'].join('');
  }

  private newDay(ms: number): string {
    const iso = new Date(ms).toISOString();
    if (Number.isInteger(ms) && ms >= 0 && ms < YEAR_10000_MS) {
      this.otherDayStart = this.dayStart;
      this.otherDatePart = this.datePart;
      this.dayStart = ms - (ms % DAY_MS);
      this.datePart = iso.slice(0, 11);
    }
    return iso;
  }
}

const isoTimes = new IsoTimes();
/** `new Date(ms).toISOString()`: every audit event formats several (see IsoTimes). */
export const iso = (ms: number): string => isoTimes.format(ms);
