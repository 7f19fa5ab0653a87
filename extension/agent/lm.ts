// The language-model tools API (VS Code 1.95+), declared here because the extension supports
// VS Code from 1.93 (engines, @types/vscode 1.93): on an older editor the tools are simply not
// registered. Only the members Elevate uses; the shapes follow vscode.d.ts of 1.95.
import * as vscode from 'vscode';

export interface LmTextPart {
  value: string;
}
export interface LmToolResult {
  content: unknown[];
}
export interface PreparedToolInvocation {
  invocationMessage?: string | vscode.MarkdownString;
  confirmationMessages?: { title: string; message: string | vscode.MarkdownString };
}
export interface LmTool<T> {
  prepareInvocation?(options: { input: T }, token: vscode.CancellationToken): vscode.ProviderResult<PreparedToolInvocation>;
  invoke(options: { input: T; toolInvocationToken?: unknown }, token: vscode.CancellationToken): vscode.ProviderResult<LmToolResult>;
}
export interface LmToolsApi {
  lm: {
    registerTool<T>(name: string, tool: LmTool<T>): vscode.Disposable;
    readonly tools: readonly { name: string; inputSchema?: object }[];
    invokeTool(name: string, options: { input: object; toolInvocationToken: unknown }, token?: vscode.CancellationToken): Thenable<LmToolResult>;
  };
  LanguageModelToolResult: new (content: unknown[]) => LmToolResult;
  LanguageModelTextPart: new (value: string) => LmTextPart;
}

/** The API when this editor has it (1.95+), else undefined. */
export function lmTools(): LmToolsApi | undefined {
  // the vscode module is the editor's own API object, not untrusted data: this only widens its type
  const api = vscode as unknown as Partial<LmToolsApi> & { lm?: Partial<LmToolsApi['lm']> };
  return typeof api.lm?.registerTool === 'function' && typeof api.LanguageModelToolResult === 'function' && typeof api.LanguageModelTextPart === 'function'
    ? (api as LmToolsApi)
    : undefined;
}
