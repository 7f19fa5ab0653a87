// The request detail webview's script (extension/views/requestDetail.ts renders the page): each
// action button asks the extension to run its command.
const vscode = acquireVsCodeApi();
document.querySelectorAll('button[data-action]').forEach((b) => b.addEventListener('click', () => vscode.postMessage({ type: b.dataset.action })));
