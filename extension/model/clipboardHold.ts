// Credentials copied to the clipboard are cleared when their grant ends (CredentialHolders). A
// window reload or an editor restart in between would forget that, and the credentials would stay
// on the clipboard after the grant ended. So each copy is also remembered in the editor's secret
// storage (the grant, its end, a SHA-256 fingerprint of the text; never the text), and the next
// window takes the hold over: it clears the clipboard at once if the grant ended meanwhile, or at
// the grant's end. Either way only if the clipboard still holds exactly what was copied.
// Pure (no vscode import): views/grantCredentials.ts supplies the clipboard and the storage.
import type { Grant } from '../../server/protocol';
import { errorMessage } from '../api/errors';
import type { IDisposable, Logger } from '../util/lifecycle';
import type { CredentialHolders } from './credentialHolders';
import { clipboardFingerprint } from './credentials';
import { logText } from '../../server/protocol/escape/logLine';

export const SAVED_COPY_KEY = 'elevate.clipboardCopy';

export interface ClipboardLike {
  readText(): PromiseLike<string>;
  writeText(text: string): PromiseLike<void>;
}

export interface SecretStoreLike {
  get(key: string): PromiseLike<string | undefined>;
  store(key: string, value: string): PromiseLike<void>;
  delete(key: string): PromiseLike<void>;
}

/** What is remembered of a copy. */
export interface SavedCopy {
  grant: Grant;
  /** when the copied credentials stop working */
  expiresAt: string;
  fingerprint: string;
}

const isSavedCopy = (x: unknown): x is SavedCopy => {
  const c = x as SavedCopy | null;
  return (
    typeof c === 'object' &&
    c !== null &&
    typeof c.fingerprint === 'string' &&
    typeof c.expiresAt === 'string' &&
    !Number.isNaN(Date.parse(c.expiresAt)) &&
    typeof c.grant === 'object' &&
    c.grant !== null &&
    typeof c.grant.id === 'string' &&
    typeof c.grant.expiresAt === 'string' &&
    !Number.isNaN(Date.parse(c.grant.expiresAt))
  );
};

export class ClipboardHold {
  /** the hold of the latest copy: the clipboard holds one text at a time */
  private current: IDisposable | undefined;

  constructor(
    private readonly holders: CredentialHolders,
    private readonly clipboard: ClipboardLike,
    private readonly secrets: SecretStoreLike,
    private readonly log: Logger,
  ) {}

  /** Puts `text` on the clipboard and clears it when the grant ends, if it still holds that text then. */
  async copy(grant: Grant, expiresAt: string, text: string): Promise<void> {
    await this.clipboard.writeText(text);
    const copy: SavedCopy = { grant, expiresAt, fingerprint: clipboardFingerprint(text) };
    this.hold(copy);
    await this.guard('remember the copy', () => this.secrets.store(SAVED_COPY_KEY, JSON.stringify(copy)));
  }

  /**
   * Takes over the hold of a copy made before this window started (a reload, a restart). Resolves
   * true when there was one. A copy made here since wins.
   */
  async restore(): Promise<boolean> {
    const saved = await this.saved();
    if (!saved || this.current) return false;
    if (!isSavedCopy(saved.value)) {
      this.log.warn('forgot a remembered clipboard copy that could not be read');
      await this.forget();
      return false;
    }
    this.log.info(`holding the credentials of grant ${saved.value.grant.id} copied before this window started`);
    this.hold(saved.value);
    return true;
  }

  private hold(copy: SavedCopy): void {
    // whatever an earlier copy put there is gone now
    this.current?.dispose();
    this.current = this.holders.hold(copy.grant, copy.expiresAt, {
      kind: 'clipboard',
      release: async () => {
        const saved = await this.saved();
        if (saved && isSavedCopy(saved.value) && saved.value.fingerprint === copy.fingerprint) await this.forget();
        if (clipboardFingerprint(await this.clipboard.readText()) !== copy.fingerprint) return false;
        await this.clipboard.writeText('');
        return true;
      },
    });
  }

  private async saved(): Promise<{ value: unknown } | undefined> {
    const raw = await this.guard('read the remembered copy', () => this.secrets.get(SAVED_COPY_KEY));
    if (raw === undefined) return undefined;
    try {
      return { value: JSON.parse(raw) };
    } catch {
      return { value: undefined };
    }
  }

  /** Forgets the remembered copy (the caller has just read it: not one another window made since). */
  private async forget(): Promise<void> {
    await this.guard('forget the copy', () => this.secrets.delete(SAVED_COPY_KEY));
  }

  /** Secret storage can fail (no keyring): the hold in this window still works without it. */
  private async guard<T>(what: string, fn: () => PromiseLike<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (err) {
      this.log.warn(`could not ${what} in the secret storage: ${logText(errorMessage(err))}`);
      return undefined;
    }
  }
}
