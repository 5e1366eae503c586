import mammoth from 'mammoth';
import { fileCorruptError } from './failures.js';
import { collectWordprocessingText } from './wordml.js';
import { parseXml } from './xml.js';
import { listZipEntries, MAX_ZIP_ENTRY_BYTES, readZipEntries } from './zip.js';

/** Text of a DOCX document and the problems met while reading it. */
export interface DocxExtraction {
  text: string;
  warnings: string[];
}

const HEADER_FOOTER_PART = /^word\/(header|footer)(\d*)\.xml$/;

/**
 * Extracts the text of a DOCX document. The body comes from mammoth, which reads each
 * text box once (from its VML fallback copy). Mammoth ignores headers and footers, where
 * many resume templates keep the name and contact details, so their text is read here
 * and placed before and after the body.
 */
export async function extractDocx(bytes: Uint8Array): Promise<DocxExtraction> {
  const entries = listZipEntries(bytes);
  if (entries === null) throw fileCorruptError('a DOCX document');
  // Mammoth inflates parts without a size limit, so oversized parts are rejected first.
  if (entries.some((entry) => /\.(xml|rels)$/.test(entry.name) && entry.originalSize > MAX_ZIP_ENTRY_BYTES)) {
    throw fileCorruptError('a DOCX document');
  }

  let body: string;
  const warnings: string[] = [];
  try {
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const result = await mammoth.extractRawText({ buffer });
    body = result.value;
    for (const message of result.messages) {
      if (message.type === 'error') warnings.push(`DOCX: ${message.message}`);
    }
  } catch (error) {
    throw fileCorruptError('a DOCX document', error);
  }

  const { headers, footers } = readHeadersAndFooters(bytes, warnings);
  const text = [...headers, body, ...footers].join('\n\n');
  return { text, warnings };
}

/** Reads header and footer parts in part-number order, dropping repeats such as a first-page copy. */
function readHeadersAndFooters(bytes: Uint8Array, warnings: string[]): { headers: string[]; footers: string[] } {
  const headers = new Set<string>();
  const footers = new Set<string>();
  let parts: [string, Uint8Array][];
  try {
    parts = [...readZipEntries(bytes, (name) => HEADER_FOOTER_PART.test(name))];
  } catch {
    warnings.push('DOCX: the header and footer parts could not be read and were skipped.');
    return { headers: [], footers: [] };
  }
  parts.sort(([left], [right]) => partNumber(left) - partNumber(right));

  for (const [name, data] of parts) {
    let text: string;
    try {
      text = collectWordprocessingText(parseXml(new TextDecoder('utf-8').decode(data))).trim();
    } catch {
      warnings.push(`DOCX: the part ${name} could not be parsed and was skipped.`);
      continue;
    }
    if (text === '') continue;
    if (name.startsWith('word/header')) headers.add(text);
    else footers.add(text);
  }
  return { headers: [...headers], footers: [...footers] };
}

function partNumber(name: string): number {
  return Number(HEADER_FOOTER_PART.exec(name)?.[2] || 0);
}
