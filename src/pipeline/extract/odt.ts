import { fileCorruptError, fileEmptyError, fileTooComplexError, protectedDocumentError } from './failures.js';
import { childElements, findElement, parseXml, XmlDepthError, type XmlElement } from './xml.js';
import { readZipEntries, ZipLimitError, ZipReadError } from './zip.js';

/** Elements that hold no document text: comments, deleted text kept for change tracking, declarations. */
const SKIPPED_ELEMENTS = new Set([
  'office:annotation', 'office:forms', 'text:tracked-changes', 'text:sequence-decls', 'text:variable-decls',
  'text:user-field-decls', 'text:dde-connection-decls', 'svg:title', 'svg:desc', 'text:table-of-content-source',
  'text:alphabetical-index-source', 'text:illustration-index-source', 'text:bibliography-source',
]);

const HEADER_ELEMENTS = ['style:header', 'style:header-left', 'style:header-first'];
const FOOTER_ELEMENTS = ['style:footer', 'style:footer-left', 'style:footer-first'];

/** Upper bound for one `text:s` run, so a hostile count cannot allocate a huge string. */
const MAX_SPACE_RUN = 100;

/**
 * Extracts the text of an ODT document from `content.xml`, with the headers and footers
 * of the page styles in `styles.xml` placed before and after the body.
 */
export function extractOdt(bytes: Uint8Array): string {
  let parts: Map<string, Uint8Array>;
  try {
    parts = readZipEntries(bytes, (name) => ['content.xml', 'styles.xml', 'META-INF/manifest.xml'].includes(name));
  } catch (error) {
    if (error instanceof ZipLimitError) throw fileTooComplexError(`The ODT document is too large when decompressed: ${error.message}.`, error);
    if (error instanceof ZipReadError) throw fileCorruptError('an ODT document', error);
    throw error;
  }

  const decoder = new TextDecoder('utf-8');
  const manifest = parts.get('META-INF/manifest.xml');
  if (manifest !== undefined && decoder.decode(manifest).includes('manifest:encryption-data')) {
    throw protectedDocumentError('ODT document');
  }

  const content = parts.get('content.xml');
  if (content === undefined) throw fileCorruptError('an ODT document');
  const body = findElement(parseOdfXml(decoder.decode(content)), 'office:text');
  if (body === undefined) throw fileEmptyError('The ODT document has no text body.');

  const styles = parts.get('styles.xml');
  const pageStyles = styles === undefined ? undefined : findElement(parseOdfXml(decoder.decode(styles)), 'office:master-styles');
  const headers = new Set<string>();
  const footers = new Set<string>();
  for (const masterPage of pageStyles === undefined ? [] : childElements(pageStyles, 'style:master-page')) {
    for (const name of HEADER_ELEMENTS) for (const header of childElements(masterPage, name)) headers.add(collectOdfText(header).trim());
    for (const name of FOOTER_ELEMENTS) for (const footer of childElements(masterPage, name)) footers.add(collectOdfText(footer).trim());
  }
  headers.delete('');
  footers.delete('');

  return [...headers, collectOdfText(body), ...footers].join('\n\n');
}

function parseOdfXml(xml: string): XmlElement {
  try {
    return parseXml(xml);
  } catch (error) {
    if (error instanceof XmlDepthError) throw fileTooComplexError(`The ODT document nests elements too deeply: ${error.message}.`, error);
    throw fileCorruptError('an ODT document', error);
  }
}

/**
 * Collects the text of OpenDocument text content. Paragraphs and headings end with a line
 * break, and `text:s`, `text:tab` and `text:line-break` stand for spaces, a tab and a line break.
 * Inside a paragraph, whitespace in character data collapses to one space as the
 * OpenDocument standard specifies; whitespace between elements outside paragraphs is layout.
 */
export function collectOdfText(root: XmlElement): string {
  const output: string[] = [];

  const visit = (element: XmlElement, inParagraph: boolean): void => {
    if (SKIPPED_ELEMENTS.has(element.name)) return;

    switch (element.name) {
      case 'text:s': {
        const count = Number.parseInt(element.attributes['text:c'] ?? '1', 10);
        output.push(' '.repeat(Number.isInteger(count) ? Math.min(Math.max(count, 1), MAX_SPACE_RUN) : 1));
        return;
      }
      case 'text:tab':
        output.push('\t');
        return;
      case 'text:line-break':
        output.push('\n');
        return;
    }

    const isParagraph = element.name === 'text:p' || element.name === 'text:h';
    for (const child of element.children) {
      if (typeof child !== 'string') visit(child, inParagraph || isParagraph);
      else if (inParagraph || isParagraph) output.push(child.replace(/[ \t\r\n]+/g, ' '));
    }
    if (isParagraph) output.push('\n');
  };

  visit(root, false);
  return output.join('');
}
