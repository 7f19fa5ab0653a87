// Who is signed in to which server. The token lives in SecretStorage only, under a key made of
// the server's origin, so a token given for one server is never sent to another: changing
// `elevate.serverUrl` switches to that origin's token (or to signed out).
import * as vscode from 'vscode';
import { CONFIG_SECTION, DEFAULT_SERVER_URL, Settings, tokenSecretKey } from '../constants';
import type { ElevateModel } from '../model/model';
import { Disposable } from '../util/lifecycle';
import { ElevateClient, originOf } from './client';
import { ApiError, errorMessage } from './errors';

export function configuredServerUrl(): string {
  return vscode.workspace.getConfiguration(CONFIG_SECTION).get<string>(Settings.serverUrl) || DEFAULT_SERVER_URL;
}

export class Session extends Disposable {
  private clientValue: ElevateClient | undefined;
  private starting = 0;

  constructor(
    private readonly secrets: vscode.SecretStorage,
    private readonly model: ElevateModel,
    private readonly log: vscode.LogOutputChannel,
  ) {
    super();
    this.register(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(`${CONFIG_SECTION}.${Settings.serverUrl}`)) {
          this.log.info(`server URL changed to ${configuredServerUrl()}`);
          void this.start();
        }
      }),
    );
    // another window signed in or out of the same server
    this.register(
      secrets.onDidChange((e) => {
        const origin = this.safeOrigin();
        if (origin && e.key === tokenSecretKey(origin)) void this.start();
      }),
    );
  }

  /** The signed-in client; undefined when signed out. */
  get client(): ElevateClient | undefined {
    return this.clientValue;
  }

  private safeOrigin(): string | undefined {
    try {
      return originOf(configuredServerUrl());
    } catch {
      return undefined;
    }
  }

  /** Loads the stored token for the configured server and connects, or shows signed out. */
  async start(): Promise<void> {
    const run = ++this.starting;
    const serverUrl = configuredServerUrl();
    let origin: string;
    try {
      origin = originOf(serverUrl);
    } catch (err) {
      this.clientValue = undefined;
      this.model.signOut(errorMessage(err));
      return;
    }
    const token = await this.secrets.get(tokenSecretKey(origin));
    if (run !== this.starting || this.isDisposed) return;
    if (!token) {
      if (this.clientValue || this.model.state !== 'signedOut') this.log.info(`no token stored for ${origin}: signed out`);
      this.clientValue = undefined;
      this.model.signOut();
      return;
    }
    if (this.clientValue && this.clientValue.origin === origin && this.clientValue.usesToken(token) && this.model.state !== 'signedOut') return;
    this.clientValue = new ElevateClient({ serverUrl: origin, token });
    this.log.info(`connecting to ${origin}`);
    await this.model.connect(this.clientValue);
  }

  /**
   * Checks the token with `/v1/me` before keeping anything; on success stores it for that
   * origin and makes the URL the configured server.
   */
  async signIn(serverUrl: string, token: string): Promise<{ name: string; origin: string }> {
    const origin = originOf(serverUrl);
    const candidate = new ElevateClient({ serverUrl: origin, token: token.trim() });
    const me = await candidate.me();
    this.starting++;
    await this.secrets.store(tokenSecretKey(origin), token.trim());
    if (origin !== this.safeOrigin()) {
      // the configuration listener would start() too; the counter above makes this run the one that counts
      await vscode.workspace.getConfiguration(CONFIG_SECTION).update(Settings.serverUrl, origin, vscode.ConfigurationTarget.Global);
    }
    this.clientValue = candidate;
    this.log.info(`signed in to ${origin} as ${me.id}`);
    await this.model.connect(candidate);
    return { name: me.name, origin };
  }

  async signOut(): Promise<void> {
    const origin = this.safeOrigin();
    this.starting++;
    // a browser sign-in's session also ends on the server (an API token stays: 409, ignored)
    void this.clientValue?.logout().catch(() => undefined);
    this.clientValue = undefined;
    if (origin) await this.secrets.delete(tokenSecretKey(origin));
    this.model.signOut();
    this.log.info(`signed out of ${origin ?? 'the server'}`);
  }

  /** The client, or an ApiError that tells the user to sign in. */
  requireClient(): ElevateClient {
    if (!this.clientValue) throw new ApiError(401, 'unauthenticated', vscode.l10n.t('Sign in to Elevate first.'));
    return this.clientValue;
  }
}
