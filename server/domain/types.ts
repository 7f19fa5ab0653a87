// The normalized, validated policy the engine works with. Produced from the YAML file by
// domain/policy.ts; everything here is already checked, defaulted and converted to seconds.
import type { ResourceHints, userRoles } from '../protocol/index.js';
import type { IdentitySettings } from '../identity/config.js';

// The protocol exports UserRole as a zod schema (a value); the domain needs the type.
export type UserRole = (typeof userRoles)[number];

export interface PolicyUser {
  id: string;
  name: string;
  groups: string[];
  roles: UserRole[];
}

import type { TimeWindow } from '../protocol/window.js';

export type { TimeWindow };

export interface AutoApproveRule {
  roles: string[];
  maxDurationSeconds: number;
  groups?: string[];
  window?: TimeWindow;
}

export interface ProviderConfig {
  type: 'none' | 'postgres' | 'webhook' | 'command';
  [key: string]: unknown;
}

export interface Resource {
  id: string;
  name: string;
  description: string;
  roles: string[];
  maxDurationSeconds: number;
  defaultDurationSeconds: number;
  requireTicket: boolean;
  pendingTtlSeconds: number;
  approval: {
    /** as written: "group:dba", "user:carol", "role:admin" */
    approvers: string[];
    required: number;
    autoApprove: AutoApproveRule[];
  };
  extension: { maxTotalSeconds: number; withoutApprovalSeconds: number };
  breakGlass: boolean;
  provider: ProviderConfig;
  /** where the resource lives, for the editor's matching only (absent when the policy gives none) */
  hints?: ResourceHints;
}

export interface Policy {
  users: ReadonlyMap<string, PolicyUser>;
  resources: ReadonlyMap<string, Resource>;
  /** the raw `notify:` section, validated later by the notification work */
  notify?: unknown;
  server: ServerSettings;
  /** the `identity:` section (sign-in through the company's OpenID provider); defaults when absent */
  identity: IdentitySettings;
}

/** The policy's `server:` section: how this server is reached. */
export interface ServerSettings {
  /** the URL people and the IdP use to reach the server, when it differs from the listening address */
  publicUrl?: string;
  /** CIDRs of proxies whose X-Forwarded-For is believed (client address for rate limits and audit) */
  trustedProxies: string[];
}

/** What a request asks for, as the engine hands it to evaluation. */
export interface RequestInput {
  resourceId: string;
  role: string;
  durationSeconds: number;
  ticket?: string;
  breakGlass?: boolean;
}

export interface RequestEvaluation {
  /** false when a policy rule refuses the request (HTTP 422); `violations` says why */
  allowed: boolean;
  violations: string[];
  /** approved at once by an autoApprove rule */
  autoApproved: boolean;
  autoApproveRule?: number;
  /** approved at once as break-glass self-approval */
  breakGlass: boolean;
  /** human-readable: why it was (not) auto-approved, who must approve */
  reasons: string[];
}

export interface ExtensionEvaluation {
  allowed: boolean;
  violations: string[];
  /** applied without approval (durationSeconds <= extension.withoutApproval) */
  atOnce: boolean;
  reasons: string[];
}
