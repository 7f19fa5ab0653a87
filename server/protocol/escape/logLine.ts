// User or network text inside one line of a human-readable log (the extension's output channel,
// the CLI's stderr). A newline would start a line that looks like the program's own, a carriage
// return would overwrite one on a terminal, and bidi overrides reorder what a reader sees: each
// is shown as an escape instead. JSON logs need none of this (JSON.stringify escapes them).

/** C0 and C1 controls, DEL, line/paragraph separators and bidi controls. */
// eslint-disable-next-line no-control-regex -- control characters are what this module escapes
export const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** `text` as one log line's worth: controls escaped, at most `max` characters (then "…"). */
export function logText(text: unknown, max = 500): string {
  const s = typeof text === 'string' ? text : String(text);
  const cut = s.length > max ? s.slice(0, max) + '…' : s;
  return cut.replace(CONTROL_CHARS, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
