/**
 * Text extraction from resume files. The format is detected from the bytes, the text is
 * extracted in memory (nothing is written to disk) and normalized. Failures are `JobError`s
 * with `retryable: false` and a message that gives the sender the next step.
 *
 * Error codes: `file_empty`, `unsupported_file_type`, `file_corrupt`, `pdf_encrypted`,
 * `no_text_layer`, `file_too_complex`. `thread-pool.ts` runs this in worker threads with
 * memory and time limits.
 */
import { describeUnsupported, isBlank, isUnreadableZip, sniffDocument, type DocumentFormat, type SniffedDocument } from './detect.js';
import { extractDocx } from './docx.js';
import { fileCorruptError, fileEmptyError, noTextLayerError, unsupportedFileTypeError } from './failures.js';
import { extractHtml } from './html.js';
import { countNonWhitespace, normalizeText } from './normalize.js';
import { extractOdt } from './odt.js';
import { extractPdf } from './pdf.js';
import { extractRtf } from './rtf.js';
import { extractWordml } from './wordml.js';

export { detectFormat, type DocumentFormat } from './detect.js';
export { normalizeText } from './normalize.js';

/** Normalized text of a document, with its format and any problems that did not stop extraction. */
export interface ExtractedDocument {
  text: string;
  format: DocumentFormat;
  /** Page count; set for PDFs only, because other formats are paginated by the viewer. */
  pages?: number;
  /** Human-readable notes such as truncation or skipped PDF pages. */
  warnings: string[];
}

/** Options for `extractText`. */
export interface ExtractTextOptions {
  /** Maximum length of the returned text in UTF-16 code units; longer text is cut with a warning. Default 200_000. */
  maxChars?: number;
  /** PDFs with more pages fail with `file_too_complex` before any page is read. Default 100. */
  maxPages?: number;
}

/** Default for `ExtractTextOptions.maxChars`. */
export const DEFAULT_MAX_CHARS = 200_000;

/** Default for `ExtractTextOptions.maxPages`. */
export const DEFAULT_MAX_PAGES = 100;

/**
 * A PDF whose text layer yields fewer non-whitespace characters than this is treated as a
 * scan: stray page numbers or a few icon letters are not a resume.
 */
const MIN_PDF_TEXT_CHARS = 20;

/**
 * Extracts and normalizes the text of a resume file.
 *
 * @throws JobError `file_empty` for no bytes, only whitespace, or a document without text.
 * @throws JobError `unsupported_file_type` for formats other than PDF, DOCX, ODT, RTF, HTML,
 *   Word 2003 XML and UTF-8 text, and for a password-protected ODT.
 * @throws JobError `file_corrupt` for a recognised format that cannot be parsed. Any ZIP
 *   archive with an unreadable directory counts, because it may be a truncated DOCX or ODT.
 * @throws JobError `pdf_encrypted` for a password-protected PDF.
 * @throws JobError `no_text_layer` for a PDF without extractable text.
 * @throws JobError `file_too_complex` for a PDF with more than `maxPages` pages, a DOCX or
 *   ODT whose parts inflate past the ZIP size caps, or XML nested too deeply.
 * @throws RangeError when `maxChars` or `maxPages` is not a positive integer.
 * @example
 * const { text, format, warnings } = await extractText(bytes, { maxChars: 50_000 });
 */
export async function extractText(bytes: Uint8Array, options: ExtractTextOptions = {}): Promise<ExtractedDocument> {
  const maxChars = options.maxChars ?? DEFAULT_MAX_CHARS;
  if (!Number.isSafeInteger(maxChars) || maxChars <= 0) {
    throw new RangeError(`maxChars must be a positive integer, received ${String(maxChars)}`);
  }
  const maxPages = options.maxPages ?? DEFAULT_MAX_PAGES;
  if (!Number.isSafeInteger(maxPages) || maxPages <= 0) {
    throw new RangeError(`maxPages must be a positive integer, received ${String(maxPages)}`);
  }

  if (bytes.length === 0) throw fileEmptyError('The file is empty (0 bytes).');
  if (isBlank(bytes)) throw fileEmptyError('The file contains only whitespace.');

  const sniffed = sniffDocument(bytes);
  if (sniffed === null) {
    if (isUnreadableZip(bytes)) throw fileCorruptError('a ZIP-based document such as DOCX or ODT');
    throw unsupportedFileTypeError(describeUnsupported(bytes));
  }

  const warnings: string[] = [];
  let pages: number | undefined;
  let raw: string;
  if (sniffed.format === 'pdf') {
    // Normalization rarely shrinks text by half, so twice the limit is enough to fill it.
    const pdf = await extractPdf(bytes, { readLimitChars: maxChars * 2, maxPages });
    raw = pdf.text;
    pages = pdf.pages;
    warnings.push(...pdf.warnings);
  } else {
    raw = await extractRawText(sniffed, bytes, warnings);
  }

  let text = normalizeText(raw);
  if (sniffed.format === 'pdf' && countNonWhitespace(text) < MIN_PDF_TEXT_CHARS) throw noTextLayerError();
  if (text === '') throw fileEmptyError('The document contains no text.');

  if (text.length > maxChars) {
    warnings.push(`The text was truncated to ${maxChars} of ${text.length} characters.`);
    text = truncate(text, maxChars);
  }

  const result: ExtractedDocument = { text, format: sniffed.format, warnings };
  if (pages !== undefined) result.pages = pages;
  return result;
}

async function extractRawText(sniffed: SniffedDocument, bytes: Uint8Array, warnings: string[]): Promise<string> {
  switch (sniffed.format) {
    case 'docx': {
      const docx = await extractDocx(bytes);
      warnings.push(...docx.warnings);
      return docx.text;
    }
    case 'odt':
      return extractOdt(bytes);
    case 'rtf':
      return extractRtf(bytes);
    case 'html':
      return extractHtml(sniffed.text ?? '');
    case 'wordml':
      return extractWordml(sniffed.text ?? '');
    case 'text':
      return sniffed.text ?? '';
    case 'pdf':
      throw new Error('PDF text is extracted by extractPdf');
  }
}

/** Cuts text to `maxChars` code units without splitting a surrogate pair. */
function truncate(text: string, maxChars: number): string {
  const cut = /[\uD800-\uDBFF]/.test(text[maxChars - 1] ?? '') ? maxChars - 1 : maxChars;
  return text.slice(0, cut).trimEnd();
}
