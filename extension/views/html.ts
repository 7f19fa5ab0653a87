// Shared bits for the webviews: escaping, a strict CSP with a nonce, and the theme-following stylesheet.
import { randomBytes } from 'node:crypto';
import type * as vscode from 'vscode';
import { escapeHtml as esc } from '../../server/protocol/escape/html';

export { esc };

export const nonce = (): string => randomBytes(16).toString('base64');

/** The webviews' theme-following stylesheet, a file in media/ (.vscodeignore packages it). */
export const STYLESHEET = 'webview.css';

/**
 * A webview page: strict CSP (scripts only with this render's nonce, styles only from the
 * extension's media folder). The stylesheet is a file the webview loads, not a string the
 * extension host carries in its bundle.
 */
export function page(webview: vscode.Webview, media: vscode.Uri, n: string, title: string, body: string, script = ''): string {
  // Uri.with, not Uri.joinPath: this module stays free of the vscode runtime (unit tests import it)
  const css = webview.asWebviewUri(media.with({ path: `${media.path}/${STYLESHEET}` }));
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${webview.cspSource}; script-src 'nonce-${n}'; img-src ${webview.cspSource};">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${esc(title)}</title>
<link rel="stylesheet" href="${esc(css.toString())}">
</head>
<body>${body}${script ? `<script nonce="${n}">${script}</script>` : ''}</body></html>`;
}
