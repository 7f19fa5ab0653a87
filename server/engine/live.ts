// Live events: what an event stream carries for an audit event. The payload is built once, in
// the transaction that commits the event (the request and grant exactly as committed with it),
// and stored with the event in the log; live delivery and Last-Event-ID replay then both send
// those same bytes, read from the log by seq (the log is the event bus).
import { iso } from '../domain/clock.js';
import type { AccessRequest, Grant, LiveEvent, SseEventType } from '../protocol/index.js';
import { sseEventTypes } from '../protocol/index.js';

export const isSseType = (action: string): action is SseEventType => (sseEventTypes as readonly string[]).includes(action);

/** The JSON a stream sends for this event. */
export function liveEventJson(
  e: { action: SseEventType; at: number; details: Record<string, unknown> },
  request: AccessRequest | undefined,
  grant: Grant | undefined,
): string {
  const secondsLeft = e.details.secondsLeft;
  const event: LiveEvent = {
    type: e.action,
    at: iso(e.at),
    ...(request && { request }),
    ...(grant && { grant }),
    ...(e.action === 'grant.expiring' && typeof secondsLeft === 'number' && { secondsLeft }),
  };
  return JSON.stringify(event);
}
