import { createRequire } from 'node:module';
import path from 'node:path';
import { getDocumentProxy } from 'unpdf';
import type { JobError } from '../../errors.js';
import { fileCorruptError, fileTooComplexError, pdfEncryptedError } from './failures.js';

/** Text of a PDF, its page count and the problems met while reading it. */
export interface PdfExtraction {
  text: string;
  pages: number;
  warnings: string[];
}

type PdfDocument = Awaited<ReturnType<typeof getDocumentProxy>>;
type PdfPage = Awaited<ReturnType<PdfDocument['getPage']>>;
type PdfTextContent = Awaited<ReturnType<PdfPage['getTextContent']>>;

/**
 * Data folders of the pdfjs-dist package: CMaps, which CJK fonts without embedded glyph
 * mappings need (without them such text is lost), and the metrics of the 14 standard
 * fonts. unpdf 1.7 passes these folders as file: URLs, which the Node build of pdf.js 5.6
 * hands to fs.readFile as plain strings and so cannot open. Filesystem paths work.
 */
const PDFJS_DATA_OPTIONS = (() => {
  const root = path.dirname(createRequire(import.meta.url).resolve('pdfjs-dist/package.json'));
  return {
    cMapUrl: path.join(root, 'cmaps') + path.sep,
    cMapPacked: true,
    standardFontDataUrl: path.join(root, 'standard_fonts') + path.sep,
  };
})();

/** A text run from pdf.js, placed in the coordinates of its own writing direction. */
interface PlacedRun {
  text: string;
  /** Position along the baseline direction, in PDF units. */
  along: number;
  /** Position across the baseline: runs on the same line share it. */
  across: number;
  /** `along` plus the advance width of the run. */
  end: number;
  /** Font size in PDF units. */
  size: number;
  directionX: number;
  directionY: number;
  leftToRight: boolean;
}

/**
 * Extracts the text of a PDF: the text layer of each page in content-stream order, which
 * keeps the columns of two-column layouts apart, followed by the values of the page's
 * form fields. Reading stops after the page where the text passes `readLimitChars`.
 * Throws `pdf_encrypted` for a password-protected file, `file_too_complex` for more than
 * `maxPages` pages, and `file_corrupt` when pdf.js cannot parse it or no page can be read.
 *
 * A PDF over the page limit is rejected instead of read in part: a resume has a few pages,
 * and an analysis of the first pages of a much longer file would pass for a complete one.
 */
export async function extractPdf(bytes: Uint8Array, limits: { readLimitChars: number; maxPages: number }): Promise<PdfExtraction> {
  const { readLimitChars, maxPages } = limits;
  let document: PdfDocument;
  try {
    // pdf.js takes over and detaches the buffer it is given, so it gets a copy. `slice` would
    // not do: on a Node Buffer it returns a view that may share the Buffer pool's memory.
    document = await getDocumentProxy(new Uint8Array(bytes), { ...PDFJS_DATA_OPTIONS, verbosity: 0 });
  } catch (error) {
    if (error instanceof Error && error.name === 'PasswordException') throw pdfEncryptedError(error);
    throw unreadablePdfError(error);
  }

  try {
    if (document.numPages > maxPages) {
      throw fileTooComplexError(`The PDF has ${document.numPages} pages, more than the limit of ${maxPages} (EXTRACT_MAX_PAGES).`);
    }
    return await readPages(document, readLimitChars);
  } finally {
    await document.destroy();
  }
}

async function readPages(document: PdfDocument, readLimitChars: number): Promise<PdfExtraction> {
  const warnings: string[] = [];
  const pageTexts: string[] = [];
  const seenFieldNames = new Set<string>();
  let failedPages = 0;
  let firstPageError: unknown;
  let length = 0;

  for (let pageNumber = 1; pageNumber <= document.numPages; pageNumber++) {
    if (length > readLimitChars) {
      warnings.push(`Only the first ${pageNumber - 1} of ${document.numPages} PDF pages were read because the text limit was reached.`);
      break;
    }
    try {
      const page = await document.getPage(pageNumber);
      const layout = buildPageText(await page.getTextContent());
      const fields = await readFormFieldValues(page, seenFieldNames);
      page.cleanup();
      const text = [layout, ...fields].join('\n');
      pageTexts.push(text);
      length += text.length;
    } catch (error) {
      failedPages++;
      firstPageError ??= error;
      warnings.push(`Page ${pageNumber} of the PDF could not be read and was skipped.`);
    }
  }
  if (document.numPages > 0 && failedPages === document.numPages) throw unreadablePdfError(firstPageError);

  const attachments = await document.getAttachments().catch(() => null);
  const attachmentCount = attachments === null || typeof attachments !== 'object' ? 0 : Object.keys(attachments).length;
  if (attachmentCount > 0) warnings.push(`The PDF has ${attachmentCount} embedded file(s), which were not read.`);

  return { text: pageTexts.join('\n\n'), pages: document.numPages, warnings };
}

/**
 * Maps a pdf.js failure to `file_too_complex` when it ran out of stack, which happens on
 * objects nested thousands of levels deep, and to `file_corrupt` otherwise. pdf.js passes
 * such errors on with the message of the original RangeError.
 */
function unreadablePdfError(error: unknown): JobError {
  const message = error instanceof Error ? error.message : String(error);
  if (/maximum call stack size exceeded/i.test(message)) {
    return fileTooComplexError('The PDF nests its objects too deeply to be read.', error);
  }
  return fileCorruptError('a PDF', error);
}

/**
 * Rebuilds the lines of one page from pdf.js text runs. A new line starts where pdf.js
 * marks one (`hasEOL`), where the baseline moves, or where a left-to-right run jumps back
 * behind the previous one. A space goes between runs on one line that pdf.js left
 * unseparated but that are visibly apart, so words from different runs are not glued.
 *
 * NOTE: pdf.js 5.6 drops every glyph that maps to a lone Unicode format character
 * (category Cf) without advancing, so a LuaTeX hyphen mapped to U+00AD vanishes
 * ("highimpact") and a word hyphenated at a line end stays split ("Con" / "sul").
 */
export function buildPageText(content: PdfTextContent): string {
  const lines: string[] = [];
  let line = '';
  let previous: PlacedRun | undefined;
  let lineBreakPending = false;

  for (const item of content.items) {
    if (!('str' in item)) continue;
    if (item.str.trim() === '') {
      if (item.str !== '' && line !== '' && !line.endsWith(' ')) line += ' ';
      lineBreakPending ||= item.hasEOL;
      continue;
    }

    const run = placeRun(item);
    if (previous !== undefined && isOverprint(previous, run)) continue;
    if (previous !== undefined && line !== '') {
      if (lineBreakPending || startsNewLine(previous, run)) {
        lines.push(line);
        line = '';
      } else if (run.along - previous.end > 0.2 * run.size && !line.endsWith(' ')) {
        line += ' ';
      }
    }

    line += run.text.replace(/[\r\n]+/g, ' ');
    previous = run;
    lineBreakPending = item.hasEOL;
  }
  lines.push(line);
  return lines.join('\n');
}

function placeRun(item: { str: string; transform: number[]; width: number; height: number; dir: string }): PlacedRun {
  const [a = 1, b = 0, c = 0, d = 1, x = 0, y = 0] = item.transform;
  const scale = Math.hypot(a, b);
  const directionX = scale > 0 ? a / scale : 1;
  const directionY = scale > 0 ? b / scale : 0;
  const along = x * directionX + y * directionY;
  return {
    text: item.str,
    along,
    across: y * directionX - x * directionY,
    end: along + item.width,
    size: Math.hypot(c, d) || item.height || 1,
    directionX,
    directionY,
    leftToRight: item.dir !== 'rtl',
  };
}

function startsNewLine(previous: PlacedRun, run: PlacedRun): boolean {
  const sameDirection = previous.directionX * run.directionX + previous.directionY * run.directionY > 0.99;
  if (!sameDirection) return true;
  if (Math.abs(run.across - previous.across) > 0.5 * Math.min(previous.size, run.size)) return true;
  return previous.leftToRight && run.leftToRight && run.along < previous.along - 0.5 * run.size;
}

/**
 * Detects "fake bold": the same glyphs drawn again a fraction of their width to the side,
 * as the LaTeX CJK packages do. Without this check the text reads "学学学位位位".
 */
function isOverprint(previous: PlacedRun, run: PlacedRun): boolean {
  return (
    run.text === previous.text &&
    Math.abs(run.across - previous.across) < 0.1 * run.size &&
    Math.abs(run.along - previous.along) < 0.2 * (previous.end - previous.along)
  );
}

/**
 * Reads the values of the page's text and choice fields, top to bottom and left to right.
 * pdf.js leaves them out of the text layer, and some forms keep all of their content there.
 * A field shown on several pages is read once.
 */
async function readFormFieldValues(page: PdfPage, seenFieldNames: Set<string>): Promise<string[]> {
  const annotations: unknown = await page.getAnnotations();
  if (!Array.isArray(annotations)) return [];

  const fields: { value: string; top: number; left: number }[] = [];
  for (const annotation of annotations as Record<string, unknown>[]) {
    if (annotation.subtype !== 'Widget' || (annotation.fieldType !== 'Tx' && annotation.fieldType !== 'Ch')) continue;
    if (annotation.hidden === true || annotation.password === true) continue;

    const rawValue = annotation.fieldValue;
    const value = Array.isArray(rawValue)
      ? rawValue.filter((part): part is string => typeof part === 'string').join(', ')
      : typeof rawValue === 'string'
        ? rawValue
        : '';
    if (value.trim() === '') continue;

    if (typeof annotation.fieldName === 'string') {
      if (seenFieldNames.has(annotation.fieldName)) continue;
      seenFieldNames.add(annotation.fieldName);
    }
    const rect = Array.isArray(annotation.rect) ? (annotation.rect as number[]) : [];
    fields.push({ value: value.replace(/\r\n?/g, '\n'), top: rect[3] ?? 0, left: rect[0] ?? 0 });
  }

  fields.sort((first, second) => second.top - first.top || first.left - second.left);
  return fields.map((field) => field.value);
}
