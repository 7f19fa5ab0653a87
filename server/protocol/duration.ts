// The two duration grammars, each in one place for the server and the extension (issue 12):
// - the POLICY grammar, as the policy file writes durations ("90s", "15m", "1h30m", "2d",
//   "1d2h3m4s", or integer seconds, so a bare number is SECONDS): parsePolicyDuration;
// - the TYPED grammar, what a person types into the editor ("45m", "1h 30m", "2d"; a bare
//   number is MINUTES, and the editor always says what it understood): parseTypedDuration.
// Everything inside Elevate is whole seconds. Imports nothing (shared with the extension).

const DURATION_ERROR = 'expected a duration like "1h30m"';

/** Ten years: the same ceiling the HTTP API puts on durationSeconds, and far from Date's range. */
export const MAX_DURATION_SECONDS = 10 * 365 * 24 * 3600;

const UNIT_SECONDS = { d: 86400, h: 3600, m: 60, s: 1 } as const;

// Units in descending order, each at most once, so "30m1h" or "1h1h" (most likely typos) are refused.
const PATTERN = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** Parses a positive duration into seconds; throws `expected a duration like "1h30m"` otherwise. */
export function parsePolicyDuration(v: string | number): number {
  const seconds = parsePolicyDurationOrZero(v);
  if (seconds === 0) throw new Error(DURATION_ERROR);
  return seconds;
}

/**
 * Like parsePolicyDuration but also accepts zero ("0", "0s", 0). Only for settings where zero means
 * "off", such as extension.withoutApproval.
 */
export function parsePolicyDurationOrZero(v: string | number): number {
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
      seconds = Number(d ?? 0) * UNIT_SECONDS.d + Number(h ?? 0) * UNIT_SECONDS.h + Number(min ?? 0) * UNIT_SECONDS.m + Number(sec ?? 0) * UNIT_SECONDS.s;
    }
  } else {
    throw new Error(DURATION_ERROR);
  }
  if (!Number.isSafeInteger(seconds) || seconds < 0) throw new Error(DURATION_ERROR);
  if (seconds > MAX_DURATION_SECONDS) throw new Error(`duration must be at most ${formatPolicyDuration(MAX_DURATION_SECONDS)}`);
  return seconds;
}

/** 5400 → "1h30m", 45 → "45s", 172800 → "2d", 0 → "0s". parsePolicyDuration(formatPolicyDuration(n)) === n. */
export function formatPolicyDuration(seconds: number): string {
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

/**
 * Parses what a person types for a duration: `45m`, `1h30m`, `1h 30m`, `2d`, `90s`, and a bare
 * number as minutes (`45` = 45m). Undefined for anything else, zero included. Callers show what
 * they understood ("Use 45m") so a bare number is never taken silently.
 */
export function parseTypedDuration(input: string): number | undefined {
  const text = input.trim().toLowerCase();
  if (/^\d+$/.test(text)) return Number(text) > 0 && Number(text) * 60 <= MAX_DURATION_SECONDS ? Number(text) * 60 : undefined;
  const re = /(\d+)\s*([dhms])\s*/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    matched = re.lastIndex;
    total += Number(m[1]) * UNIT_SECONDS[m[2] as keyof typeof UNIT_SECONDS];
  }
  return matched === text.length && matched > 0 && total > 0 && total <= MAX_DURATION_SECONDS ? total : undefined;
}
