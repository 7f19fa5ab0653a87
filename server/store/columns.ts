// Values both stores keep as JSON text in one column, and how they are read back. Shared so the
// two backends read and write them identically (the state check compares the exact text).
import type { NewRequest, StoredEvaluation } from './types.js';

/** A JSON array of strings as stored (groups, roles); anything else reads as none (never trusted blindly). */
export function strings(json: string): string[] {
  const v: unknown = JSON.parse(json);
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/**
 * Parsed evaluations by their text. A request's evaluation is read with every read of the
 * request (several per change), and most requests share a handful of texts: each is parsed
 * once. The values are frozen, since every reader of that text gets the same object.
 */
const parsed = new Map<string, StoredEvaluation>();
const PARSED_MAX = 1000;

export function evaluation(json: string): StoredEvaluation {
  let e = parsed.get(json);
  if (e) return e;
  e = parseEvaluation(json);
  Object.freeze(e.reasons);
  Object.freeze(e);
  if (parsed.size >= PARSED_MAX) parsed.clear();
  parsed.set(json, e);
  return e;
}

function parseEvaluation(json: string): StoredEvaluation {
  const v: unknown = JSON.parse(json);
  if (v === null || typeof v !== 'object') return { reasons: [] };
  const o = v as { autoApproveRule?: unknown; reasons?: unknown };
  return {
    ...(typeof o.autoApproveRule === 'number' && { autoApproveRule: o.autoApproveRule }),
    reasons: Array.isArray(o.reasons) ? o.reasons.filter((x): x is string => typeof x === 'string') : [],
  };
}

/**
 * The stored text of an evaluation, in the exact form the server always wrote: autoApproveRule
 * (when one applied) before reasons (the state check compares it with what the log says,
 * domain/stateReplay.ts).
 */
export const evaluationText = (e: StoredEvaluation): string =>
  JSON.stringify({ ...(e.autoApproveRule !== undefined && { autoApproveRule: e.autoApproveRule }), reasons: e.reasons });

/**
 * A new request's column values, in the order both stores' INSERTs name the columns (id, kind,
 * requester_id, resource_id, role, duration_s, justification, ticket, status, grant_id,
 * required, auto_approved, break_glass, evaluation, created_at, decided_at, pending_until).
 * `flag` writes a boolean as the backend stores it (SQLite: 0/1).
 */
export function requestValues(r: NewRequest, flag: (b: boolean) => unknown): unknown[] {
  return [
    r.id,
    r.kind,
    r.requesterId,
    r.resourceId,
    r.role,
    r.durationS,
    r.justification,
    r.ticket,
    r.status,
    r.grantId,
    r.required,
    flag(r.autoApproved),
    flag(r.breakGlass),
    evaluationText(r.evaluation),
    r.createdAt,
    r.decidedAt,
    r.pendingUntil,
  ];
}
