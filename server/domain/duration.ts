// Durations as the policy file writes them ("90s", "15m", "1h30m", "2d", "1d2h3m4s", or integer
// seconds) and as people read them back. Everything inside Elevate is whole seconds.

const DURATION_ERROR = 'expected a duration like "1h30m"';

/** Ten years: the same ceiling the HTTP API puts on durationSeconds, and far from Date's range. */
export const MAX_DURATION_SECONDS = 10 * 365 * 24 * 3600;

const UNIT_SECONDS = { d: 86400, h: 3600, m: 60, s: 1 } as const;

// Units in descending order, each at most once, so "30m1h" or "1h1h" (most likely typos) are refused.
const PATTERN = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** Parses a positive duration into seconds; throws `expected a duration like "1h30m"` otherwise. */
export function parseDuration(v: string | number): number {
  const seconds = parseDurationOrZero(v);
  if (seconds === 0) throw new Error(DURATION_ERROR);
  return seconds;
}

/**
 * Like parseDuration but also accepts zero ("0", "0s", 0). Only for settings where zero means
 * "off", such as extension.withoutApproval.
 */
export function parseDurationOrZero(v: string | number): number {
  let seconds: number;
  if (typeof v === 'number') {
    seconds = v;
  } else if (typeof v === 'string') {
    const s = v.trim();
    if (/^\d+$/.test(s)) {
      seconds = Number(s);
    } else {
      const m = PATTERN.exec(s);
      // The pattern also matches "", which has no unit at all.
      if (!m || s === '') throw new Error(DURATION_ERROR);
      const [, d, h, min, sec] = m;
      seconds =
        Number(d ?? 0) * UNIT_SECONDS.d +
        Number(h ?? 0) * UNIT_SECONDS.h +
        Number(min ?? 0) * UNIT_SECONDS.m +
        Number(sec ?? 0) * UNIT_SECONDS.s;
    }
  } else {
    throw new Error(DURATION_ERROR);
  }
  if (!Number.isSafeInteger(seconds) || seconds < 0) throw new Error(DURATION_ERROR);
  if (seconds > MAX_DURATION_SECONDS) throw new Error(`duration must be at most ${formatDuration(MAX_DURATION_SECONDS)}`);
  return seconds;
}

/** 5400 → "1h30m", 45 → "45s", 172800 → "2d", 0 → "0s". parseDuration(formatDuration(n)) === n. */
export function formatDuration(seconds: number): string {
  let rest = Math.max(0, Math.floor(seconds));
  if (rest === 0) return '0s';
  let out = '';
  for (const [unit, size] of Object.entries(UNIT_SECONDS)) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}
