// User text inside Slack mrkdwn (notifications). Slack reads &, < and > as markup (<url|text> is
// a link, <!channel> a mention), a newline starts a line that can pose as one of ours, @channel
// may notify everyone, and *, _, ~ and ` format. So: the three are escaped as Slack documents;
// controls become spaces (or, in a quote, line breaks that stay inside the quote); a word joiner
// after @ and a zero-width space before each formatting character keep Slack from reading them
// while the reader sees the same text.
import { CONTROL_CHARS } from './logLine.js';

const neutral = (line: string) =>
  line
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/@/g, '@\u2060')
    .replace(/[*_~`]/g, '\u200b$&');

/** User text on one line of a message. */
export function mrkdwnText(text: unknown): string {
  return neutral(String(text ?? '').replace(CONTROL_CHARS, ' '));
}

/** User text as a block quote: every line of it starts with "> ", so none can leave the quote. */
export function mrkdwnQuote(text: unknown): string {
  return (
    String(text ?? '')
      // eslint-disable-next-line no-control-regex -- every kind of line break splits the quote
      .split(/\r\n|[\n\r\u2028\u2029\u000b\u000c\u0085]/)
      .map((line) => `> ${mrkdwnText(line)}`)
      .join('\n')
  );
}
