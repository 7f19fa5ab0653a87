// Branch → ticket (issue 15, item 4): a ticket id in the current Git branch's name prefills the
// ticket and the justification of every request flow. Pure, unit-tested.

export const DEFAULT_TICKET_PATTERN = '[A-Z][A-Z0-9]+-\\d+';

export interface Prefill {
  ticket: string;
  /** "INC-4711: fix slow orders" for fix/INC-4711-slow-orders */
  justification: string;
}

/** The setting as a regular expression; an empty one turns the feature off, a broken one says why. */
export function ticketRegex(pattern: string | undefined): RegExp | undefined | { error: string } {
  const p = pattern ?? DEFAULT_TICKET_PATTERN;
  if (!p.trim()) return undefined;
  try {
    return new RegExp(p);
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

/** The ticket in a branch name and a justification made of the rest of the name. */
export function prefillFromBranch(branch: string | undefined, re: RegExp | undefined): Prefill | undefined {
  if (!branch || !re) return undefined;
  const m = new RegExp(re.source, re.flags.replace('g', '')).exec(branch);
  if (!m || !m[0]) return undefined;
  const ticket = m[0];
  const rest = (branch.slice(0, m.index) + ' ' + branch.slice(m.index + ticket.length))
    .split(/[/_\-.\s]+/)
    .filter(Boolean)
    .join(' ');
  return { ticket, justification: rest ? `${ticket}: ${rest}` : ticket };
}
