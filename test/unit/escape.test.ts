// Text that becomes markup (issue 14, item 6): user text (justification, ticket, reason, names)
// in every output format — Slack mrkdwn, CSV, HTML, VS Code Markdown, log lines — with hostile
// samples. Each format has one module in server/protocol/escape/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { csvCell, csvRow } from '../../server/protocol/escape/csv.js';
import { escapeHtml } from '../../server/protocol/escape/html.js';
import { logText } from '../../server/protocol/escape/logLine.js';
import { escapeMarkdown, markdownQuote } from '../../server/protocol/escape/markdown.js';
import { mrkdwnQuote, mrkdwnText } from '../../server/protocol/escape/mrkdwn.js';

const HOSTILE = [
  'fix\n*Approved by carol* :white_check_mark:',
  'see <https://evil.example|the runbook> now',
  '<!channel> <!here> @channel @here @everyone',
  'a & b < c > d',
  'line1\r\nline2\rline3\u2028line4\u2029line5\u0085line6\u000bline7',
  '=HYPERLINK("https://evil.example","click")',
  '+1',
  '-2+3',
  '@SUM(A1:A2)',
  '\t=1',
  '\r=1',
  'bidi \u202eevil\u202c text',
  '`code` _it_ ~strike~',
];

test('mrkdwnText_leavesNoLineBreakNoLinkNoMentionAndNoFormatting', () => {
  for (const s of HOSTILE) {
    const out = mrkdwnText(s);
    // eslint-disable-next-line no-control-regex -- line breaks are what is checked
    assert.doesNotMatch(out, /[\n\r\u2028\u2029\u0085\u000b]/, `no line break: ${JSON.stringify(s)}`);
    assert.doesNotMatch(out, /[<>]/, `no < or > (links, mentions): ${JSON.stringify(s)}`);
    assert.doesNotMatch(out, /&(?!amp;|lt;|gt;)/, `every & is an entity: ${JSON.stringify(s)}`);
    assert.doesNotMatch(out, /@(?!\u2060)/, `no bare @ (mentions): ${JSON.stringify(s)}`);
    assert.doesNotMatch(out, /(?<!\u200b)[*_~`]/, `no formatting character Slack would read: ${JSON.stringify(s)}`);
    assert.doesNotMatch(out, /[\u202a-\u202e]/);
  }
  assert.equal(mrkdwnText('<https://evil.example|runbook>'), '&lt;https://evil.example|runbook&gt;');
  // what a reader sees is the same text, without the invisible joiners
  assert.equal(mrkdwnText('a@b.c *x*').replace(/[\u200b\u2060]/g, ''), 'a@b.c *x*');
});

test('mrkdwnQuote_everyLineOfTheTextStaysInsideTheQuote', () => {
  const out = mrkdwnQuote(HOSTILE[4]);
  const lines = out.split('\n');
  assert.equal(lines.length, 7);
  for (const l of lines) assert.match(l, /^> line\d$/);
  assert.equal(mrkdwnQuote('fix\n*Approved by carol*').split('\n')[1], '> \u200b*Approved by carol\u200b*');
});

test('csvCell_formulaStartsBecomeText_andQuotingFollowsRfc4180', () => {
  for (const s of ['=1+1', '+1', '-2+3', '@SUM(A1:A2)', '\t=1', '\r=1', HOSTILE[5]]) {
    const cell = csvCell(s);
    const unquoted = cell.startsWith('"') ? cell.slice(1, -1).replace(/""/g, '"') : cell;
    assert.equal(unquoted, `'${s}`, JSON.stringify(s));
  }
  assert.equal(csvCell('a,b'), '"a,b"');
  assert.equal(csvCell('say "hi"\nbye'), '"say ""hi""\nbye"');
  assert.equal(csvCell({ justification: '=cmd' }), '"{""justification"":""=cmd""}"');
  assert.equal(csvCell(42), '42');
  assert.equal(csvCell(null), '');
  assert.equal(csvRow(['a', '=b', 'c,d']), 'a,\'=b,"c,d"');
});

test('escapeHtml_noTagAttributeOrEntityOfTheUserSurvives', () => {
  assert.equal(escapeHtml('<img src=x onerror="alert(1)">'), '&lt;img src=x onerror=&quot;alert(1)&quot;&gt;');
  assert.equal(escapeHtml('\' & "'), '&#39; &amp; &quot;');
  assert.equal(escapeHtml('&lt;'), '&amp;lt;');
  for (const s of HOSTILE) assert.doesNotMatch(escapeHtml(s), /[<>"']|&(?!amp;|lt;|gt;|quot;|#39;)/);
});

test('escapeMarkdown_noLinkListHeadingIconOrHtml_andQuotesKeepEveryLine', () => {
  assert.equal(escapeMarkdown('[x](command:elevate.signOut)'), '\\[x\\]\\(command\\:elevate\\.signOut\\)');
  assert.equal(escapeMarkdown('$(warning) <b>'), '\\$\\(warning\\) \\<b\\>');
  assert.doesNotMatch(escapeMarkdown('a\n- Approved by carol\n# Title'), /\n/);
  const quoted = markdownQuote('why\n\n- Approved by carol');
  assert.deepEqual(quoted.split('\n'), ['> why', '> ', '> \\- Approved by carol']);
});

test('logText_controlsAreShownAsEscapes_soNoLineCanBeForged', () => {
  assert.equal(logText('ok\n2026-01-01 [info] signed in as admin'), 'ok\\n2026-01-01 [info] signed in as admin');
  assert.equal(logText('a\rb\tc\u0000d\u202ee'), 'a\\rb\\tc\\u0000d\\u202ee');
  assert.equal(logText('x'.repeat(10), 4), 'xxxx…');
  // eslint-disable-next-line no-control-regex -- control characters are what is checked
  for (const s of HOSTILE) assert.doesNotMatch(logText(s), /[\u0000-\u001f\u2028\u2029\u202a-\u202e]/);
});
