// The policy's top-level `notify:` section: where approvers hear about things outside the editor.
import { z } from 'zod';
import { SecretRef, UrlOrSecret } from '../providers/config.js';

export const notifyEvents = ['request.created', 'break_glass', 'grant.revoke_failed'] as const;
export type NotifyEvent = (typeof notifyEvents)[number];

export const DEFAULT_BASE_URL = 'vscode://elevate.elevate';

export const SlackTarget = z.strictObject({
  /** a Slack-compatible incoming-webhook URL; it carries a token, so {env|file} is allowed */
  url: UrlOrSecret,
  /** HMAC-SHA256 key: when set, posts are signed like the webhook provider's */
  secret: SecretRef.optional(),
  /** default: every event */
  events: z.array(z.enum(notifyEvents)).min(1, 'must list at least one event').optional(),
  /** only these resources (default: all) */
  resources: z.array(z.string().min(1)).optional(),
});
export type SlackTarget = z.output<typeof SlackTarget>;

export const NotifyConfig = z.strictObject({
  slack: z.array(SlackTarget).optional(),
  /** base of the link that opens a request in the editor (the extension's URI handler) */
  baseUrl: z
    .string()
    .regex(/^[a-z][a-z0-9+.-]*:\/\/\S+$/i, 'expected a URI base like vscode://elevate.elevate')
    .optional(),
});
export type NotifyConfig = z.output<typeof NotifyConfig>;
