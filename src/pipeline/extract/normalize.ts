/**
 * Normalizes extracted text so that every format yields the same kind of plain text:
 *
 * - CR and CRLF become LF, and so do U+2028, U+2029, vertical tab and form feed.
 * - Unicode NFKC, which also turns ligatures such as U+FB01 into "fi" and most
 *   Unicode spaces into U+0020.
 * - A soft hyphen (U+00AD) at the end of a line between two letters marks a hyphenated
 *   word, so the two parts are joined ("submis\u00AD\nsions" becomes "submissions").
 *   A soft hyphen next to a hyphen is a second mapping of the same glyph, as in
 *   "555-\u00AD\u20105555" from Word on macOS, so the run becomes one "-".
 *   Every other soft hyphen is removed.
 * - U+2010 and U+2011 hyphens become "-"; NBSP and the other Unicode spaces become a space.
 * - Private-use characters (icon-font glyphs), zero-width and bidirectional formatting
 *   characters, lone surrogates and control characters other than tab and LF are removed.
 * - Runs of spaces and tabs become one space, lines are trimmed, and three or more line
 *   breaks in a row become one blank line.
 *
 * Words glued together by a PDF layout ("Jane SmithSoftware Engineer") are left alone:
 * splitting them would also split names such as "McDonald" or "GitHub". The PDF
 * extractor prevents most of these joins by rebuilding lines from glyph positions.
 */
export function normalizeText(raw: string): string {
  let text = raw.replace(/\r\n?/g, '\n');
  text = text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '');
  text = text.normalize('NFKC');
  text = text.replace(/[\u2028\u2029\v\f]/g, '\n');

  text = text.replace(/[-\u2010\u2011]*\u00AD[-\u2010\u2011\u00AD]*/g, (run) => (/[-\u2010\u2011]/.test(run) ? '-' : run));
  text = text.replace(/(\p{L})\u00AD[ \t]*\n[ \t]*(?=\p{L})/gu, '$1');
  text = text.replace(/\u00AD/g, '');
  text = text.replace(/[\u2010\u2011]/g, '-');

  text = text.replace(/[\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]/g, ' ');
  text = text.replace(/[\u200B\u200E\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/g, '');
  text = text.replace(/\p{Co}/gu, '');
  text = text.replace(/[\0-\x08\x0E-\x1F\x7F-\x9F\uFFFE\uFFFF]/g, '');

  text = text.replace(/[ \t]+/g, ' ');
  text = text
    .split('\n')
    .map((line) => line.trim())
    .join('\n');
  return text.replace(/\n{3,}/g, '\n\n').trim();
}

/** Counts the characters that are not whitespace, to decide whether any text was found. */
export function countNonWhitespace(text: string): number {
  return text.replace(/\s+/g, '').length;
}
