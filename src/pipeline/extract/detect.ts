import { decoderForLabel } from './codepages.js';
import { listZipEntries } from './zip.js';

/** A document format that extraction supports. `wordml` is Word 2003 XML (WordprocessingML). */
export type DocumentFormat = 'pdf' | 'docx' | 'odt' | 'rtf' | 'html' | 'text' | 'wordml';

/** A detected format, plus the decoded string for formats that are text underneath. */
export interface SniffedDocument {
  format: DocumentFormat;
  /** Decoded content for `html`, `wordml` and `text`; absent for binary formats. */
  text?: string;
}

/** Acrobat accepts a PDF header anywhere in the first 1024 bytes, and so do we. */
const PDF_HEADER_WINDOW = 1024;
const ODT_MIME_TYPES = ['application/vnd.oasis.opendocument.text', 'application/vnd.oasis.opendocument.text-template'];
const UTF8_BOM = [0xef, 0xbb, 0xbf];

/**
 * Detects the document format from the bytes alone: magic numbers, ZIP entry names and
 * content sniffing. File names, extensions and declared MIME types are never consulted,
 * because senders often get them wrong. Returns null for anything unsupported.
 *
 * A ZIP whose central directory is unreadable, such as a truncated download, is still
 * reported as `docx` or `odt` when its local headers name `word/document.xml` or carry the
 * ODT `mimetype` entry, and as null otherwise. `extractText` rejects every unreadable ZIP
 * as `file_corrupt`, because its content cannot be known.
 */
export function detectFormat(bytes: Uint8Array): DocumentFormat | null {
  return sniffDocument(bytes)?.format ?? null;
}

/** Detects the format like `detectFormat` and keeps the decoded text so it is decoded only once. */
export function sniffDocument(bytes: Uint8Array): SniffedDocument | null {
  if (indexOfAscii(bytes, '%PDF-', 0, PDF_HEADER_WINDOW) !== -1) return { format: 'pdf' };
  if (startsWithBytes(bytes, [0x50, 0x4b, 0x03, 0x04])) return sniffZip(bytes);
  if (startsWithAscii(bytes, '{\\rtf', skipLeadingWhitespace(bytes))) return { format: 'rtf' };

  const text = decodeTextBytes(bytes);
  if (text === null) return null;
  const markup = sniffMarkup(text);
  if (markup !== null) return { format: markup, text };
  return looksLikePlainText(text) ? { format: 'text', text } : null;
}

/**
 * Names what unsupported bytes appear to be, for the rejection message
 * ("a PNG image", "a legacy Microsoft Office file ...").
 */
export function describeUnsupported(bytes: Uint8Array): string {
  if (startsWithBytes(bytes, [0x89, 0x50, 0x4e, 0x47])) return 'a PNG image';
  if (startsWithBytes(bytes, [0xff, 0xd8, 0xff])) return 'a JPEG image';
  if (startsWithAscii(bytes, 'GIF8')) return 'a GIF image';
  if (startsWithAscii(bytes, 'II*\0') || startsWithAscii(bytes, 'MM\0*')) return 'a TIFF image';
  if (startsWithAscii(bytes, 'RIFF') && startsWithAscii(bytes, 'WEBP', 8)) return 'a WebP image';
  if (startsWithAscii(bytes, 'ftyp', 4)) return 'an image or video (HEIC, AVIF or MP4)';
  if (startsWithBytes(bytes, [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1])) {
    return 'a legacy Microsoft Office file (such as a binary Word .doc) or a password-protected Office document';
  }
  if (startsWithAscii(bytes, 'PK')) return 'a ZIP archive that is not a DOCX or ODT document';
  if (startsWithBytes(bytes, [0x1f, 0x8b]) || startsWithAscii(bytes, '7z') || startsWithAscii(bytes, 'Rar!')) {
    return 'a compressed archive';
  }
  return 'binary data or text in an unsupported encoding';
}

/** Reports whether the bytes start like a ZIP archive whose central directory cannot be read. */
export function isUnreadableZip(bytes: Uint8Array): boolean {
  return startsWithBytes(bytes, [0x50, 0x4b, 0x03, 0x04]) && listZipEntries(bytes) === null;
}

/** Reports whether the bytes are empty or only ASCII whitespace, optionally after a UTF-8 byte order mark. */
export function isBlank(bytes: Uint8Array): boolean {
  for (let index = startsWithBytes(bytes, UTF8_BOM) ? 3 : 0; index < bytes.length; index++) {
    if (!isAsciiWhitespace(bytes[index]!)) return false;
  }
  return true;
}

function sniffZip(bytes: Uint8Array): SniffedDocument | null {
  if (readOdtMimeType(bytes) !== undefined) return { format: 'odt' };

  const entries = listZipEntries(bytes);
  if (entries === null) {
    // Truncated archive: the names still sit in the local headers that did arrive.
    return indexOfAscii(bytes, 'word/document.xml', 0, bytes.length) === -1 ? null : { format: 'docx' };
  }
  return entries.some((entry) => entry.name === 'word/document.xml') ? { format: 'docx' } : null;
}

/**
 * Reads the ODT `mimetype` entry, which the OpenDocument standard requires to be the first
 * entry, stored uncompressed, so it can be read from the first local header.
 */
function readOdtMimeType(bytes: Uint8Array): string | undefined {
  if (bytes.length < 30) return undefined;
  const storedSize = (bytes[18]! | (bytes[19]! << 8) | (bytes[20]! << 16)) + bytes[21]! * 0x1000000;
  const nameLength = bytes[26]! | (bytes[27]! << 8);
  const extraLength = bytes[28]! | (bytes[29]! << 8);
  if (!startsWithAscii(bytes, 'mimetype', 30) || nameLength !== 'mimetype'.length) return undefined;

  // The size is 0 when the writer put it in a trailing data descriptor instead.
  const dataStart = 30 + nameLength + extraLength;
  const head = new TextDecoder('latin1').decode(bytes.subarray(dataStart, dataStart + (storedSize || 80)));
  return ODT_MIME_TYPES.find((mimeType) => head.startsWith(mimeType) && !/[a-z.-]/.test(head[mimeType.length] ?? ''));
}

/**
 * Decodes bytes that may be text: UTF-8 or UTF-16 with a byte order mark, valid UTF-8, or
 * markup in a legacy charset (the one it declares, else windows-1252 as HTML parsers assume).
 * Returns null for anything else.
 */
function decodeTextBytes(bytes: Uint8Array): string | null {
  try {
    if (startsWithBytes(bytes, [0xff, 0xfe])) return new TextDecoder('utf-16le', { fatal: true }).decode(bytes);
    if (startsWithBytes(bytes, [0xfe, 0xff])) return new TextDecoder('utf-16be', { fatal: true }).decode(bytes);
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // Not valid in the expected encoding; only markup gets a second chance below.
  }

  if (bytes[skipLeadingWhitespace(bytes)] !== 0x3c || bytes.includes(0)) return null;
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, 1024));
  const declared = /<meta[^>]+charset\s*=\s*["']?([\w.:-]+)|<\?xml[^>]+encoding\s*=\s*["']([\w.:-]+)/i.exec(head);
  try {
    return decoderForLabel(declared?.[1] ?? declared?.[2] ?? 'windows-1252').decode(bytes);
  } catch {
    return null;
  }
}

function sniffMarkup(text: string): 'html' | 'wordml' | null {
  let rest = text.slice(0, 64 * 1024).replace(/^\uFEFF/, '');
  for (;;) {
    rest = rest.trimStart();
    const terminator = rest.startsWith('<!--') ? '-->' : rest.startsWith('<?') ? '?>' : undefined;
    if (terminator === undefined) break;
    const end = rest.indexOf(terminator);
    if (end === -1) return null;
    // The processing instruction may be the one that marks Word 2003 XML.
    if (/^<\?mso-application\s+progid\s*=\s*["']Word\.Document["']/i.test(rest)) return 'wordml';
    rest = rest.slice(end + terminator.length);
  }

  if (/^<w:wordDocument[\s>]/.test(rest)) return 'wordml';
  if (/^<!doctype\s+html[\s>]/i.test(rest) || /^<(?:html|head|body)[\s>]/i.test(rest)) return 'html';
  return null;
}

/** Reports whether the text has no NUL characters and at most about 1% other control characters. */
function looksLikePlainText(text: string): boolean {
  if (text.includes('\0')) return false;
  const controls = text.match(/[\x01-\x08\x0E-\x1F\x7F]/g)?.length ?? 0;
  return controls <= 1 + text.length / 100;
}

function skipLeadingWhitespace(bytes: Uint8Array): number {
  let index = startsWithBytes(bytes, UTF8_BOM) ? 3 : 0;
  while (index < bytes.length && isAsciiWhitespace(bytes[index]!)) index++;
  return index;
}

function isAsciiWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d || byte === 0x0c;
}

function startsWithBytes(bytes: Uint8Array, prefix: readonly number[], offset = 0): boolean {
  if (bytes.length < offset + prefix.length) return false;
  return prefix.every((byte, index) => bytes[offset + index] === byte);
}

function startsWithAscii(bytes: Uint8Array, prefix: string, offset = 0): boolean {
  return startsWithBytes(bytes, Array.from(prefix, (char) => char.charCodeAt(0)), offset);
}

/** Finds an ASCII string in `bytes[from, to)` and returns its offset, or -1. */
function indexOfAscii(bytes: Uint8Array, needle: string, from: number, to: number): number {
  const first = needle.charCodeAt(0);
  const last = Math.min(to, bytes.length) - needle.length;
  for (let index = bytes.indexOf(first, from); index !== -1 && index <= last; index = bytes.indexOf(first, index + 1)) {
    if (startsWithAscii(bytes, needle, index)) return index;
  }
  return -1;
}
