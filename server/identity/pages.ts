// The few server-rendered pages of the browser sign-in (/auth/device, /auth/callback): plain
// HTML, no script, one inline style allowed by a per-response nonce. Every value is escaped.
import { randomBytes } from 'node:crypto';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (ch) => ESCAPES[ch]);

const STYLE = `
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 34rem; margin: 4rem auto; padding: 0 1rem; color: #1e2a3a; }
  h1 { font-size: 1.4rem; }
  .code { font: 700 2rem/1.2 ui-monospace, monospace; letter-spacing: .2em; padding: .6rem 1rem; border: 2px solid #1e2a3a; display: inline-block; border-radius: 6px; }
  .warn { background: #fff4d6; border-left: 4px solid #d79b00; padding: .6rem .9rem; }
  .muted { color: #5b6675; font-size: .9rem; }
  button, input[type=submit] { font-size: 1rem; padding: .5rem 1.2rem; }
  input[type=text] { font: 1.4rem ui-monospace, monospace; letter-spacing: .15em; width: 12rem; text-transform: uppercase; }`;

export interface Page {
  status: 200 | 400 | 403 | 429;
  html: string;
  /** the Content-Security-Policy for this page */
  csp: string;
}

/**
 * A page. `formTargets` are origins a form on it may lead to: the confirmation's POST answers
 * with a redirect to the IdP, and browsers apply form-action to that redirect too.
 */
function page(status: Page['status'], title: string, body: string, formTargets: string[] = []): Page {
  const nonce = randomBytes(16).toString('base64');
  const csp = [
    "default-src 'none'",
    `style-src 'nonce-${nonce}'`,
    `form-action 'self'${formTargets.map((t) => ` ${t}`).join('')}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${escapeHtml(title)} — Elevate</title>
<style nonce="${nonce}">${STYLE}</style></head>
<body><h1>${escapeHtml(title)}</h1>
${body}
</body></html>`;
  return { status, html, csp };
}

export function enterCodePage(problem?: string): Page {
  return page(
    problem ? 400 : 200,
    'Sign in to Elevate',
    `${problem ? `<p class="warn" role="alert">${escapeHtml(problem)}</p>` : ''}
<form method="get" action="device">
<p><label for="user_code">Enter the code your editor shows:</label></p>
<p><input type="text" id="user_code" name="user_code" autocomplete="off" autofocus required maxlength="12" placeholder="BCDF-GHJK">
<input type="submit" value="Next"></p>
</form>`,
  );
}

export function confirmPage(p: {
  userCode: string;
  csrf: string;
  requestedAgoSeconds: number;
  clientIp: string | null;
  clientName: string | null;
  idpOrigin: string;
}): Page {
  const ago = p.requestedAgoSeconds < 90 ? `${Math.max(0, p.requestedAgoSeconds)} seconds` : `${Math.round(p.requestedAgoSeconds / 60)} minutes`;
  const from = [p.clientName, p.clientIp && `address ${p.clientIp}`].filter(Boolean).join(', ');
  return page(
    200,
    'Sign in to Elevate',
    `<p>Your editor asked to sign in with this code:</p>
<p class="code" id="user-code">${escapeHtml(p.userCode)}</p>
<p class="muted">Requested ${escapeHtml(ago)} ago${from ? ` from ${escapeHtml(from)}` : ''}.</p>
<p class="warn"><strong>Only continue if you started this sign-in yourself and the code matches the one in your editor.</strong>
If someone sent you this link or code, close this page: continuing would sign <em>their</em> editor in as you.</p>
<form method="post" action="device">
<input type="hidden" name="user_code" value="${escapeHtml(p.userCode)}">
<input type="hidden" name="csrf" value="${escapeHtml(p.csrf)}">
<p><input type="submit" id="confirm" value="The code matches — continue to sign in"></p>
</form>`,
    [p.idpOrigin],
  );
}

export function messagePage(status: Page['status'], title: string, text: string): Page {
  return page(status, title, `<p role="${status === 200 ? 'status' : 'alert'}">${escapeHtml(text)}</p>`);
}

export function signedInPage(userId: string): Page {
  return page(
    200,
    `Signed in as ${userId}`,
    `<p role="status">Signed in as <strong>${escapeHtml(userId)}</strong> — return to your editor. You can close this page.</p>`,
  );
}
