// Time windows for auto-approval rules: "Mon-Fri 08:00-18:00 Europe/Berlin", "22:00-06:00 UTC",
// "Fri-Mon 20:00-02:00 America/New_York". Evaluated on the local wall clock of the named zone,
// read through Intl for the instant in question, so DST changes need no special casing.
// Shared with the extension (imports nothing), so the editor evaluates a rule's window exactly as
// the server does.

/** A parsed time window like "Mon-Fri 08:00-18:00 Europe/Berlin". */
export interface TimeWindow {
  source: string;
  /** ISO weekday numbers 1 (Mon) .. 7 (Sun) on which the window opens; all seven when the spec has no days */
  days: number[];
  /** minutes after local midnight */
  startMinute: number;
  endMinute: number;
  timeZone: string;
}

const DAY_NAMES = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const ALL_DAYS = [1, 2, 3, 4, 5, 6, 7];
const FORMAT_HINT = 'expected a window like "Mon-Fri 08:00-18:00 Europe/Berlin"';

function dayNumber(name: string): number {
  const i = DAY_NAMES.indexOf(name.toLowerCase() as (typeof DAY_NAMES)[number]);
  if (i < 0) throw new Error(`unknown day "${name}" (use Mon, Tue, Wed, Thu, Fri, Sat, Sun)`);
  return i + 1;
}

/**
 * "Mon,Wed,Fri", "Sat-Sun", "Fri-Mon" (wraps past Sunday), "Mon-Wed,Fri" → ISO weekdays, sorted.
 * Every unknown day and bad range is added to `problems`.
 */
function parseDays(spec: string, problems: string[]): number[] {
  const days = new Set<number>();
  const day = (name: string) => {
    try {
      return dayNumber(name);
    } catch (e) {
      problems.push((e as Error).message);
      return undefined;
    }
  };
  for (const part of spec.split(',')) {
    const range = part.split('-');
    if (range.length === 1) {
      const d = day(range[0]);
      if (d !== undefined) days.add(d);
    } else if (range.length === 2) {
      const from = day(range[0]);
      const to = day(range[1]);
      if (from === undefined || to === undefined) continue;
      // Walk forward from `from`, wrapping Sun → Mon, so "Fri-Mon" is Fri, Sat, Sun, Mon.
      for (let d = from; ; d = (d % 7) + 1) {
        days.add(d);
        if (d === to) break;
      }
    } else {
      problems.push(`bad day range "${part}"`);
    }
  }
  return [...days].sort((a, b) => a - b);
}

function parseClock(s: string, allow24: boolean): number {
  const m = /^(\d{2}):(\d{2})$/.exec(s);
  if (!m) throw new Error(`bad time "${s}" (use HH:MM, 24-hour)`);
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (allow24 && h === 24 && min === 0) return 24 * 60;
  if (h > 23 || min > 59) throw new Error(`bad time "${s}" (use HH:MM, 24-hour)`);
  return h * 60 + min;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** One cached formatter per zone; throws RangeError for a zone Intl does not know. */
function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      // h23, not hour12:false: the latter prints midnight as "24" in some ICU versions.
      hourCycle: 'h23',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Canonical zone name ("utc" → "UTC"), or an error for an unknown one. */
function checkTimeZone(zone: string): string {
  try {
    return formatterFor(zone).resolvedOptions().timeZone;
  } catch (e) {
    if (e instanceof RangeError) throw new Error(`unknown time zone "${zone}" (use an IANA name like Europe/Berlin or UTC)`);
    throw e;
  }
}

/**
 * Reads "[days] HH:MM-HH:MM Zone" and reports every problem in it (days, each time, the zone),
 * not only the first, so one round of `check-config` shows all there is to fix.
 */
export function checkWindow(s: string): { ok: true; window: TimeWindow } | { ok: false; problems: string[] } {
  const parts = s.trim().split(/\s+/);
  if (parts.length < 2 || parts.length > 3) return { ok: false, problems: [FORMAT_HINT] };
  const [daysSpec, timeSpec, zone] = parts.length === 3 ? parts : [undefined, parts[0], parts[1]];
  const problems: string[] = [];
  const attempt = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch (e) {
      problems.push((e as Error).message);
      return undefined;
    }
  };
  const days = daysSpec === undefined ? [...ALL_DAYS] : parseDays(daysSpec, problems);
  const times = timeSpec.split('-');
  let startMinute: number | undefined;
  let endMinute: number | undefined;
  if (times.length !== 2) problems.push(`bad time range "${timeSpec}"`);
  else {
    startMinute = attempt(() => parseClock(times[0], false));
    endMinute = attempt(() => parseClock(times[1], true));
    if (startMinute !== undefined && startMinute === endMinute) problems.push(`time range "${timeSpec}" is empty: start and end are equal`);
  }
  const timeZone = attempt(() => checkTimeZone(zone));
  if (problems.length || startMinute === undefined || endMinute === undefined || timeZone === undefined) {
    // the format hint once, after the last problem
    return { ok: false, problems: problems.map((p, i) => (i === problems.length - 1 ? `${p}; ${FORMAT_HINT}` : p)) };
  }
  return { ok: true, window: { source: s.trim(), days, startMinute, endMinute, timeZone } };
}

/** Parses "[days] HH:MM-HH:MM Zone"; throws an Error whose message names every problem. */
export function parseWindow(s: string): TimeWindow {
  const r = checkWindow(s);
  if (!r.ok) throw new Error(r.problems.join('; '));
  return r.window;
}

/** Local ISO weekday (1 = Mon) and minute of the day of an instant in a zone. */
export function localTime(nowMs: number, timeZone: string): { weekday: number; minute: number } {
  let weekday = 0;
  let hour = 0;
  let minute = 0;
  for (const p of formatterFor(timeZone).formatToParts(nowMs)) {
    if (p.type === 'weekday') weekday = dayNumber(p.value);
    else if (p.type === 'hour') hour = Number(p.value);
    else if (p.type === 'minute') minute = Number(p.value);
  }
  return { weekday, minute: hour * 60 + minute };
}

/**
 * Whether the instant falls inside the window: start inclusive, end exclusive. For a window
 * crossing midnight the days are the days it opens, so "Fri 22:00-06:00" covers Fri 23:00 and
 * Sat 02:00 but not Fri 02:00.
 */
export function isWithinWindow(w: TimeWindow, nowMs: number): boolean {
  const { weekday, minute } = localTime(nowMs, w.timeZone);
  if (w.startMinute < w.endMinute) {
    return w.days.includes(weekday) && minute >= w.startMinute && minute < w.endMinute;
  }
  const yesterday = weekday === 1 ? 7 : weekday - 1;
  return (w.days.includes(weekday) && minute >= w.startMinute) || (w.days.includes(yesterday) && minute < w.endMinute);
}
