// A provider creates and removes real access on a target system. Calls are idempotent (the
// outbox may retry them after a crash) and bounded by a timeout.
import type { ProviderConfig } from '../domain/types.js';

export interface ProvisionedGrant {
  id: string;
  userId: string;
  resourceId: string;
  role: string;
  startsAt: number;
  expiresAt: number;
}

/** Secrets handed to the grant's owner (e.g. a database login), never logged or audited. */
export type Credentials = Record<string, string>;

export interface Provider {
  grant(grant: ProvisionedGrant, config: ProviderConfig, signal: AbortSignal): Promise<Credentials | void>;
  extend(grant: ProvisionedGrant, config: ProviderConfig, signal: AbortSignal): Promise<void>;
  revoke(grant: ProvisionedGrant, config: ProviderConfig, signal: AbortSignal): Promise<void>;
}
