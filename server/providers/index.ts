import type { ProviderConfig } from '../domain/types.js';
import { commandProvider } from './command.js';
import { postgresProvider } from './postgres.js';
import type { Provider } from './types.js';
import { webhookProvider } from './webhook.js';

/** type "none": nothing to do on a target; target systems ask GET /v1/check instead. */
export const noneProvider: Provider = {
  async grant() {},
  async extend() {},
  async revoke() {},
};

export type ProviderRegistry = Partial<Record<ProviderConfig['type'], Provider>>;

export const defaultProviders = (): ProviderRegistry => ({
  none: noneProvider,
  postgres: postgresProvider(),
  webhook: webhookProvider(),
  command: commandProvider(),
});
