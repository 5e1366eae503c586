import { zipSync } from 'fflate';
import mammoth from 'mammoth';
import { fileCorruptError, fileTooComplexError } from './failures.js';
import { collectWordprocessingText } from './wordml.js';
import { assertXmlDepth, parseXml, XmlDepthError } from './xml.js';
import { readZipEntries, ZipLimitError, ZipReadError } from './zip.js';

/** Text of a DOCX document and the problems met while reading it. */
export interface DocxExtraction {
  text: string;
  warnings: string[];
}

const HEADER_FOOTER_PART = /^word\/(header|footer)(\d*)\.xml$/;
/** Parts that mammoth parses for text; media and other binary parts are left out. */
const XML_PART = /\.(xml|rels)$/;

/**
 * Extracts the text of a DOCX document. The body comes from mammoth, which reads each
 * text box once (from its VML fallback copy). Mammoth ignores headers and footers, where
 * many resume templates keep the name and contact details, so their text is read here
 * and placed before and after the body.
 */
export async function extractDocx(bytes: Uint8Array): Promise<DocxExtraction> {
  const parts = readXmlParts(bytes);

  let body: string;
  const warnings: string[] = [];
  try {
    // Mammoth (through JSZip) would inflate the original archive without a size limit, so
    // it gets a new uncompressed archive of the parts that were read within the caps.
    const stored = zipSync(Object.fromEntries(parts), { level: 0 });
    const buffer = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
    const result = await mammoth.extractRawText({ buffer });
    body = result.value;
    for (const message of result.messages) {
      if (message.type === 'error') warnings.push(`DOCX: ${message.message}`);
    }
  } catch (error) {
    throw fileCorruptError('a DOCX document', error);
  }

  const { headers, footers } = readHeadersAndFooters(parts, warnings);
  const text = [...headers, body, ...footers].join('\n\n');
  return { text, warnings };
}

/**
 * Inflates the XML parts within the ZIP size caps and checks their nesting depth.
 * Throws `file_too_complex` past a cap and `file_corrupt` for a damaged archive.
 */
function readXmlParts(bytes: Uint8Array): Map<string, Uint8Array> {
  let parts: Map<string, Uint8Array>;
  try {
    parts = readZipEntries(bytes, (name) => XML_PART.test(name));
  } catch (error) {
    if (error instanceof ZipLimitError) throw fileTooComplexError(`The DOCX document is too large when decompressed: ${error.message}.`, error);
    if (error instanceof ZipReadError) throw fileCorruptError('a DOCX document', error);
    throw error;
  }

  const decoder = new TextDecoder('utf-8');
  for (const [name, data] of parts) {
    try {
      assertXmlDepth(decoder.decode(data));
    } catch (error) {
      if (error instanceof XmlDepthError) throw fileTooComplexError(`The DOCX part ${name} nests elements too deeply: ${error.message}.`, error);
      throw error;
    }
  }
  return parts;
}

/** Reads header and footer parts in part-number order, dropping repeats such as a first-page copy. */
function readHeadersAndFooters(allParts: Map<string, Uint8Array>, warnings: string[]): { headers: string[]; footers: string[] } {
  const headers = new Set<string>();
  const footers = new Set<string>();
  const parts = [...allParts].filter(([name]) => HEADER_FOOTER_PART.test(name));
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
