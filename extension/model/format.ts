// Pure formatting of times and durations (no vscode import: unit-tested under node).

const pad2 = (n: number) => String(n).padStart(2, '0');

/**
 * Time left for the countdown: `m:ss` under an hour, `1h 05m` from an hour on. Rounds up, so
 * a grant still active shows at least `0:01`, and `0:00` only once it has ended.
 */
export function formatTimeLeft(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  if (total < 3600) return `${Math.floor(total / 60)}:${pad2(total % 60)}`;
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  return `${hours}h ${pad2(minutes)}m`;
}

/**
 * Minute-grained time left for tree rows, which refresh at most once a minute. Whole minutes
 * left (rounded down, like the status bar's m:ss), so "3 min" sits beside 3:09, not "4 min".
 */
export function formatMinutesLeft(ms: number): string {
  const minutes = Math.max(0, Math.floor(ms / 60_000));
  if (ms > 0 && minutes === 0) return '<1 min';
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)}h ${pad2(minutes % 60)}m`;
}

/** A duration in seconds as the policy writes it: `90s`, `15m`, `1h`, `1h 30m`, `2d`, `1d 4h`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s === 0) return '0m';
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  const parts: string[] = [];
  if (d) parts.push(`${d}d`);
  if (h) parts.push(`${h}h`);
  if (m) parts.push(`${m}m`);
  if (rest || parts.length === 0) parts.push(`${rest}s`);
  return parts.slice(0, 2).join(' ');
}

/** A clock time (local zone) for an ISO instant, with the date when it is not today. */
export function formatClockTime(iso: string | number, now: number = Date.now()): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const time = date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  const sameDay = new Date(now).toDateString() === date.toDateString();
  return sameDay ? time : `${date.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${time}`;
}

/** "3 min ago", "2 h ago", "yesterday"-ish relative time for lists. */
export function formatAgo(iso: string, now: number): string {
  const ms = now - Date.parse(iso);
  if (!Number.isFinite(ms)) return '';
  const min = Math.floor(ms / 60_000);
  if (min < 1) return 'just now';
  if (min < 60) return `${min} min ago`;
  const h = Math.floor(min / 60);
  if (h < 24) return `${h} h ago`;
  return `${Math.floor(h / 24)} d ago`;
}

/** Ends `text` with a full stop unless it already ends a sentence (e.g. before adding another). */
export function asSentence(text: string): string {
  const t = text.trimEnd();
  return /[.!?…]$/.test(t) ? t : `${t}.`;
}
