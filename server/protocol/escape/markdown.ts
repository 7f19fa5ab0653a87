// User text inside VS Code Markdown (hover tooltips, MarkdownString): every character Markdown,
// theme icons ($(…)) or inline HTML could read is backslash-escaped, and line breaks, which would
// end a quote or start a list item of our own, are kept inside the line or the quote.
import { CONTROL_CHARS } from './logLine.js';

const escapeLine = (text: string) => text.replace(CONTROL_CHARS, ' ').replace(/[\\`*_{}[\]()#+\-.!|<>$~&=:]/g, '\\$&');

/** User text on one line. */
export function escapeMarkdown(text: unknown): string {
  return escapeLine(String(text ?? ''));
}

/** User text as a block quote: every line starts with "> ". */
export function markdownQuote(text: unknown): string {
  return (
    String(text ?? '')
      // eslint-disable-next-line no-control-regex -- every kind of line break splits the quote
      .split(/\r\n|[\n\r\u2028\u2029\u000b\u000c\u0085]/)
      .map((line) => `> ${escapeLine(line)}`)
      .join('\n')
  );
}
