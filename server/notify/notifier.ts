// Approver notifications outside the editor: new requests, break-glass use and failed
// revocations, posted to Slack-compatible incoming webhooks as {text, blocks}. Each is queued as
// an outbox row inside the transaction that made the change (rule 3: a committed change is never
// left unannounced, a rolled-back one never announced), then delivered after commit, retried with
// backoff, and signed like the webhook provider when the target has a secret.
import type { Policy } from '../domain/types.js';
import type { Change } from '../engine/engine.js';
import type { Tx } from '../store/types.js';
import { formatDuration } from '../domain/duration.js';
import type { AuditEvent } from '../protocol/index.js';
import { readSecret, resolveUrl } from '../providers/config.js';
import { postSigned } from '../providers/webhook.js';
import { mrkdwnQuote, mrkdwnText } from '../protocol/escape/mrkdwn.js';
import { DEFAULT_BASE_URL, NotifyConfig, type NotifyEvent, type SlackTarget } from './config.js';

export const NOTIFY_KIND = 'notify';

/** One queued delivery: the target as the policy wrote it (secrets resolved at send time) and the message. */
interface NotifyPayload {
  target: Pick<SlackTarget, 'url' | 'secret'>;
  key: string;
  message: SlackMessage;
}

export interface SlackMessage {
  text: string;
  blocks: { type: 'section'; text: { type: 'mrkdwn'; text: string; verbatim: true } }[];
  /** not part of Slack's schema (ignored there); for receivers that want structure */
  elevate: { event: NotifyEvent; requestId?: string; grantId?: string; resourceId?: string; link?: string };
}

// user text (justification, ticket, error, names) goes through the mrkdwn module, never raw
const esc = mrkdwnText;
const str = (v: unknown) => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));

export function requestLink(baseUrl: string, requestId: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/request?id=${encodeURIComponent(requestId)}`;
}

export class Notifier {
  constructor(private readonly policy: () => Policy) {}

  private config(): NotifyConfig | undefined {
    const raw = this.policy().notify;
    if (raw === undefined) return undefined;
    const r = NotifyConfig.safeParse(raw);
    return r.success ? r.data : undefined;
  }

  /** What an audit event means to approvers, if anything. Runs inside the transaction. */
  private async classify(tx: Tx, ev: AuditEvent): Promise<NotifyEvent | null> {
    if (ev.action === 'request.created') {
      if (ev.details.breakGlass === true) return 'break_glass';
      // auto-approved at once: nobody has anything to decide
      const r = ev.requestId ? await tx.requests.get(ev.requestId) : undefined;
      return r?.status === 'pending' ? 'request.created' : null;
    }
    if (ev.action === 'grant.revoke_failed') return 'grant.revoke_failed';
    return null;
  }

  private async message(tx: Tx, kind: NotifyEvent, ev: AuditEvent, baseUrl: string): Promise<SlackMessage> {
    const d = ev.details;
    const grant = ev.grantId ? await tx.grants.get(ev.grantId) : undefined;
    const requestId = ev.requestId ?? grant?.requestId;
    const link = requestId ? requestLink(baseUrl, requestId) : undefined;
    const resource = ev.resourceId ?? grant?.resourceId ?? '';
    const name = this.policy().resources.get(resource)?.name ?? resource;
    const seconds = typeof d.durationSeconds === 'number' ? d.durationSeconds : undefined;
    const forHow = seconds ? ` for ${formatDuration(seconds)}` : '';
    const why = str(d.justification) ? `\n${mrkdwnQuote(str(d.justification))}` : '';
    const ticket = str(d.ticket) ? ` (ticket ${esc(str(d.ticket))})` : '';
    let text: string;
    if (kind === 'break_glass') {
      text = `:rotating_light: *Break-glass*: *${esc(ev.actorId)}* granted themselves *${esc(str(d.role))}* on *${esc(name)}*${forHow}${ticket}${why}`;
    } else if (kind === 'request.created') {
      const what = d.kind === 'extension' ? `an extension of *${esc(str(d.role))}*` : `*${esc(str(d.role))}*`;
      text = `*${esc(ev.actorId)}* requests ${what} on *${esc(name)}*${forHow}${ticket}${why}`;
    } else {
      const who = grant ? ` (${esc(grant.userId)}, ${esc(grant.role)} on ${esc(name)})` : '';
      text = `:warning: *Revocation failed* for grant ${esc(ev.grantId ?? '')}${who}: ${esc(str(d.error))}. Elevate keeps retrying; the grant shows revokePending until it succeeds.`;
    }
    const full = link ? `${text}\nOpen in VS Code: ${link}` : text;
    return {
      text: full,
      // verbatim: Slack links no URL or channel name and parses no mention in it by itself
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: full, verbatim: true } }],
      elevate: {
        event: kind,
        ...(requestId && { requestId }),
        ...(ev.grantId && { grantId: ev.grantId }),
        ...(resource && { resourceId: resource }),
        ...(link && { link }),
      },
    };
  }

  /** Engine append hook: queues one outbox row per matching target, in the change's transaction. */
  async enqueue(c: Change, events: AuditEvent[]): Promise<void> {
    const cfg = this.config();
    if (!cfg?.slack?.length) return;
    for (const ev of events) {
      const kind = await this.classify(c.tx, ev);
      if (!kind) continue;
      const message = await this.message(c.tx, kind, ev, cfg.baseUrl ?? DEFAULT_BASE_URL);
      for (const [i, t] of cfg.slack.entries()) {
        if (t.events && !t.events.includes(kind)) continue;
        if (t.resources && !t.resources.includes(message.elevate.resourceId ?? '')) continue;
        const payload: NotifyPayload = { target: { url: t.url, ...(t.secret && { secret: t.secret }) }, key: `${ev.seq}:${i}`, message };
        await c.enqueue(NOTIFY_KIND, null, payload);
      }
    }
  }

  /** Outbox handler: delivers one queued notification; throws (to be retried) on failure. */
  async deliver(raw: unknown, signal: AbortSignal): Promise<void> {
    const p = raw as NotifyPayload;
    const body = JSON.stringify(p.message);
    const res = await postSigned(resolveUrl(p.target.url), body, {
      ...(p.target.secret && { secret: readSecret(p.target.secret) }),
      idempotencyKey: `notify:${p.key}`,
      signal,
    });
    await res.body?.cancel().catch(() => {});
  }
}
