// The audit log webview's script (extension/views/auditLog.ts renders the page): sends the filters,
// renders the rows the extension posts back, and asks for more or for an export. Its texts come
// translated in the status line's data attributes.
const vscode = acquireVsCodeApi();
const form = document.getElementById('filters');
const rows = document.getElementById('rows');
const status = document.getElementById('status');
const more = document.getElementById('more');
const texts = { ...status.dataset };
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
let count = 0;
function filter() {
  const f = Object.fromEntries(new FormData(form).entries());
  for (const k of ['from', 'to']) if (f[k]) f[k] = new Date(f[k]).toISOString();
  return f;
}
function query() {
  status.textContent = texts.loading;
  vscode.postMessage({ type: 'query', filter: filter() });
}
form.addEventListener('submit', (e) => {
  e.preventDefault();
  query();
});
form.querySelectorAll('[data-export]').forEach((b) => b.addEventListener('click', () => vscode.postMessage({ type: 'export', format: b.dataset.export })));
more.addEventListener('click', () => {
  more.disabled = true;
  vscode.postMessage({ type: 'more' });
});
window.addEventListener('message', ({ data }) => {
  if (data.type === 'error') {
    status.textContent = data.message;
    status.className = 'error';
    return;
  }
  if (data.type !== 'rows') return;
  if (data.replace) {
    rows.innerHTML = '';
    count = 0;
  }
  rows.insertAdjacentHTML(
    'beforeend',
    data.rows
      .map(
        (r) =>
          '<tr><td class="mono">' +
          esc(r.seq) +
          '</td><td class="mono" title="' +
          esc(r.at) +
          '">' +
          esc(r.time) +
          '</td><td>' +
          esc(r.actorId) +
          '</td><td><code>' +
          esc(r.action) +
          '</code></td><td>' +
          esc(r.resourceId) +
          '</td><td class="details" title="' +
          esc(r.ids) +
          '">' +
          r.fields.map(([k, v]) => '<div><span class="muted">' + esc(k) + ':</span> ' + esc(v) + '</div>').join('') +
          '</td></tr>',
      )
      .join(''),
  );
  count += data.rows.length;
  status.className = 'muted';
  status.textContent = count ? (count === 1 ? texts.one : texts.many.replace('{0}', count)) + (data.more ? ' +' : '') : texts.none;
  more.hidden = !data.more;
  more.disabled = false;
});
query();
