// Shared bits for the webviews: escaping, a strict CSP with a nonce, and theme-following CSS.
import { randomBytes } from 'node:crypto';
import type * as vscode from 'vscode';
import { escapeHtml as esc } from '../../server/protocol/escape/html';

export { esc };

export const nonce = (): string => randomBytes(16).toString('base64');

export function page(webview: vscode.Webview, n: string, title: string, body: string, script = ''): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'nonce-${n}'; script-src 'nonce-${n}'; img-src ${webview.cspSource};">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${esc(title)}</title>
<style nonce="${n}">
  body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); background: var(--vscode-editor-background); padding: 0 20px 20px; line-height: 1.5; }
  h1 { font-size: 1.4em; font-weight: 600; margin: 16px 0 4px; }
  h2 { font-size: 1.05em; font-weight: 600; margin: 20px 0 6px; border-bottom: 1px solid var(--vscode-panel-border, transparent); padding-bottom: 4px; }
  .muted { color: var(--vscode-descriptionForeground); }
  .badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 0.85em; background: var(--vscode-badge-background); color: var(--vscode-badge-foreground); }
  .badge.warn { background: var(--vscode-inputValidation-warningBackground, #8a6d00); color: var(--vscode-foreground); }
  .badge.ok { background: var(--vscode-testing-iconPassed, #388a34); color: #fff; }
  .badge.bad { background: var(--vscode-inputValidation-errorBackground, #a1260d); color: var(--vscode-foreground); }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 8px 0; }
  dt { color: var(--vscode-descriptionForeground); }
  dd { margin: 0; }
  blockquote { margin: 8px 0; padding: 6px 12px; border-left: 3px solid var(--vscode-textBlockQuote-border); background: var(--vscode-textBlockQuote-background); white-space: pre-wrap; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid var(--vscode-editorWidget-border, rgba(128,128,128,.25)); vertical-align: top; }
  th { position: sticky; top: 0; background: var(--vscode-editor-background); font-weight: 600; }
  tbody tr:hover { background: var(--vscode-list-hoverBackground); }
  td.mono, code { font-family: var(--vscode-editor-font-family); font-size: 0.92em; }
  td.mono { white-space: nowrap; }
  td.details { max-width: 40em; overflow-wrap: anywhere; }
  button { font-family: inherit; font-size: inherit; padding: 4px 12px; border: 1px solid var(--vscode-button-border, transparent); border-radius: 2px; color: var(--vscode-button-foreground); background: var(--vscode-button-background); cursor: pointer; }
  button:hover { background: var(--vscode-button-hoverBackground); }
  button.secondary { color: var(--vscode-button-secondaryForeground); background: var(--vscode-button-secondaryBackground); }
  button.secondary:hover { background: var(--vscode-button-secondaryHoverBackground); }
  button:focus-visible, input:focus-visible, select:focus-visible { outline: 1px solid var(--vscode-focusBorder); outline-offset: 1px; }
  input, select { font-family: inherit; font-size: inherit; color: var(--vscode-input-foreground); background: var(--vscode-input-background); border: 1px solid var(--vscode-input-border, transparent); padding: 3px 6px; }
  .actions { display: flex; gap: 8px; margin: 16px 0; flex-wrap: wrap; }
  .filters { display: flex; gap: 8px; flex-wrap: wrap; align-items: end; margin: 12px 0; }
  .filters label { display: flex; flex-direction: column; gap: 2px; font-size: 0.9em; color: var(--vscode-descriptionForeground); }
  .error { color: var(--vscode-errorForeground); }
</style></head>
<body>${body}${script ? `<script nonce="${n}">${script}</script>` : ''}</body></html>`;
}
