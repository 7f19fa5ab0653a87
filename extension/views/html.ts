// Shared bits for the webviews: escaping, a strict CSP with a nonce, and the theme-following stylesheet.
import { randomBytes } from 'node:crypto';
import type * as vscode from 'vscode';
import { escapeHtml as esc } from '../../server/protocol/escape/html';

export { esc };

export const nonce = (): string => randomBytes(16).toString('base64');

/**
 * What the webviews load from media/ (.vscodeignore packages each): the theme-following stylesheet
 * and each panel's script. They run in the webview, so the extension host's bundle does not carry them.
 */
export const MEDIA = { stylesheet: 'webview.css', auditLog: 'auditLog.js', requestDetail: 'requestDetail.js' } as const;

/**
 * A webview page with a strict CSP: styles and scripts only from the extension's media folder, and
 * the script only with this render's nonce. `script` is a file in media/ (one of MEDIA).
 */
export function page(webview: vscode.Webview, media: vscode.Uri, n: string, title: string, body: string, script?: string): string {
  // Uri.with, not Uri.joinPath: this module stays free of the vscode runtime (unit tests import it)
  const src = (file: string) => esc(webview.asWebviewUri(media.with({ path: `${media.path}/${file}` })).toString());
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${webview.cspSource}; script-src 'nonce-${n}'; img-src ${webview.cspSource};">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${esc(title)}</title>
<link rel="stylesheet" href="${src(MEDIA.stylesheet)}">
</head>
<body>${body}${script ? `<script nonce="${n}" src="${src(script)}"></script>` : ''}</body></html>`;
}
